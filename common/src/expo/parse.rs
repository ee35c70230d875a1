//! dozor's parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0
//! text: HELP, TYPE and UNIT; escaped label values; names with colons;
//! NaN and ±Inf; timestamps (ms in 0.0.4, seconds in OpenMetrics);
//! exemplars (checked, not kept); histogram, summary and gaugehistogram
//! series; `# EOF`; and duplicate series.
//!
//! It walks the body line by line and hands out one sample at a time,
//! borrowing names and label values from the body. Its only per-line work
//! on the heap is a label value with an escape in it; the label buffer is
//! reused. Errors give the line and column and say what was expected.
//! Strict mode stops at the first error. Lenient mode (scrapes) skips bad
//! lines and duplicates, counts them, and keeps the first error.

use super::scan::{self, Cursor};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Text,
    OpenMetrics,
}

impl Format {
    /// From a response's Content-Type: OpenMetrics only when it says so.
    pub fn from_content_type(ct: &str) -> Self {
        if ct.trim_start().starts_with("application/openmetrics-text") {
            Self::OpenMetrics
        } else {
            Self::Text
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl Kind {
    fn parse(s: &str, f: Format) -> Option<Self> {
        Some(match (s, f) {
            ("counter", _) => Self::Counter,
            ("gauge", _) => Self::Gauge,
            ("histogram", _) => Self::Histogram,
            ("summary", _) => Self::Summary,
            ("untyped", Format::Text) | ("unknown", Format::OpenMetrics) => Self::Unknown,
            ("gaugehistogram", Format::OpenMetrics) => Self::GaugeHistogram,
            ("info", Format::OpenMetrics) => Self::Info,
            ("stateset", Format::OpenMetrics) => Self::StateSet,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {col}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

/// One sample, borrowing from the body (and the parser's label buffer).
#[derive(Debug)]
pub struct Sample<'p, 'a> {
    pub name: &'a str,
    /// In the order given.
    pub labels: &'p [(&'a str, Cow<'a, str>)],
    pub value: f64,
    pub timestamp_ms: Option<i64>,
    /// Its family's TYPE (Unknown without one).
    pub kind: Kind,
    pub line: usize,
}

pub struct Parser<'a> {
    body: &'a str,
    pos: usize,
    line: usize,
    format: Format,
    strict: bool,
    labels: Vec<(&'a str, Cow<'a, str>)>,
    kinds: HashMap<&'a str, Kind>,
    helps: HashMap<&'a str, &'a str>,
    units: HashMap<&'a str, &'a str>,
    /// Hashes of the series seen, for duplicates.
    seen: HashSet<u64>,
    /// The last sample's family, so most lookups are one comparison.
    last: Option<(&'a str, Kind)>,
    eof: bool,
    done: bool,
    skipped: usize,
    duplicates: usize,
    first_error: Option<ParseError>,
}

/// FNV-1a: fast and good enough for telling series apart in one scrape.
struct Fnv(u64);

impl Fnv {
    fn add(&mut self, s: &str) {
        for b in s.bytes().chain(std::iter::once(0xff)) {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

const SUFFIXES: [&str; 8] = [
    "_bucket", "_count", "_sum", "_created", "_total", "_gcount", "_gsum", "_info",
];

impl<'a> Parser<'a> {
    pub fn new(body: &'a str, format: Format) -> Self {
        Self {
            body,
            pos: 0,
            line: 0,
            format,
            strict: false,
            labels: Vec::with_capacity(16),
            kinds: HashMap::new(),
            helps: HashMap::new(),
            units: HashMap::new(),
            seen: HashSet::new(),
            last: None,
            eof: false,
            done: false,
            skipped: 0,
            duplicates: 0,
            first_error: None,
        }
    }

    /// A body that is not UTF-8 is refused whole, naming where.
    pub fn from_bytes(body: &'a [u8], format: Format) -> Result<Self, ParseError> {
        match std::str::from_utf8(body) {
            Ok(s) => Ok(Self::new(s, format)),
            Err(e) => {
                let ok = &body[..e.valid_up_to()];
                let line = ok.iter().filter(|b| **b == b'\n').count() + 1;
                let start = ok.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
                let col = String::from_utf8_lossy(&ok[start..]).chars().count() + 1;
                Err(ParseError {
                    line,
                    col,
                    msg: "expected UTF-8 text".into(),
                })
            }
        }
    }

    /// Stop at the first error (tests, imports).
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// Bad lines skipped (lenient mode).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Repeated series dropped (lenient mode).
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// The first error met, in either mode.
    pub fn first_error(&self) -> Option<&ParseError> {
        self.first_error.as_ref()
    }

    pub fn help(&self, family: &str) -> Option<Cow<'a, str>> {
        self.helps.get(family).map(|h| scan::unescape_help(h))
    }

    pub fn unit(&self, family: &str) -> Option<&'a str> {
        self.units.get(family).copied()
    }

    pub fn kind(&self, family: &str) -> Kind {
        self.kinds.get(family).copied().unwrap_or(Kind::Unknown)
    }

    fn error(&mut self, line: &str, at: scan::At) -> ParseError {
        let col = line[..at.offset.min(line.len())].chars().count() + 1;
        let e = ParseError {
            line: self.line,
            col,
            msg: at.msg,
        };
        self.first_error.get_or_insert_with(|| e.clone());
        e
    }

    /// The family a sample belongs to, and its kind.
    fn family(&mut self, name: &'a str) -> Kind {
        if let Some((f, k)) = self.last {
            if name == f || (name.starts_with(f) && SUFFIXES.contains(&&name[f.len()..])) {
                return k;
            }
        }
        let found = self.kinds.get_key_value(name).or_else(|| {
            SUFFIXES
                .iter()
                .filter_map(|s| name.strip_suffix(s))
                .find_map(|f| self.kinds.get_key_value(f))
        });
        match found {
            Some((f, k)) => {
                self.last = Some((f, *k));
                *k
            }
            None => Kind::Unknown,
        }
    }

    /// `# HELP`, `# TYPE`, `# UNIT`, `# EOF` or a comment.
    fn comment(&mut self, line: &'a str) -> Result<(), scan::At> {
        let mut c = Cursor::new(line);
        c.i = 1;
        c.blanks();
        let word_at = c.i;
        let word = c.token();
        let om = self.format == Format::OpenMetrics;
        if word == "EOF" && om {
            if c.i < line.len() {
                return c.err("expected nothing after # EOF");
            }
            self.eof = true;
            return Ok(());
        }
        if !matches!(word, "HELP" | "TYPE") && !(om && word == "UNIT") {
            // Text format comments are free; OpenMetrics allows none.
            if om {
                c.i = word_at;
                return c.err(format!("expected HELP, TYPE, UNIT or EOF, found {word:?}"));
            }
            return Ok(());
        }
        if c.blanks() == 0 {
            return c.err(format!("expected a metric name after {word}"));
        }
        let name_at = c.i;
        let name = c.name(true, "a metric name")?;
        let has_rest = c.blanks() > 0;
        let rest = &line[c.i..];
        match word {
            "HELP" => {
                if self.helps.insert(name, rest).is_some() && om {
                    c.i = name_at;
                    return c.err(format!("a second HELP for {name}"));
                }
            }
            "UNIT" => {
                self.units.insert(name, rest);
            }
            _ => {
                let Some(kind) = (has_rest)
                    .then(|| Kind::parse(rest.trim_end(), self.format))
                    .flatten()
                else {
                    return c.err(format!("expected a metric type, found {rest:?}"));
                };
                if self.kinds.insert(name, kind).is_some() {
                    c.i = name_at;
                    return c.err(format!("a second TYPE for {name}"));
                }
                self.last = None;
            }
        }
        Ok(())
    }

    /// Parses a sample line into the label buffer; returns its parts.
    fn sample(&mut self, line: &'a str) -> Result<(&'a str, f64, Option<i64>), scan::At> {
        let mut c = Cursor::new(line);
        let name = c.name(true, "a metric name")?;
        self.labels.clear();
        if c.peek() == Some(b'{') {
            c.i += 1;
            c.labels(&mut self.labels)?;
        }
        if c.blanks() == 0 {
            return c.err(format!(
                "expected a space and the value, found {}",
                c.found()
            ));
        }
        let value = c.value()?;
        let mut ts = None;
        let om = self.format == Format::OpenMetrics;
        if c.blanks() > 0 && !c.at_end() && c.peek() != Some(b'#') {
            let at = c.i;
            let t = c.token();
            ts = Some(
                if om {
                    scan::parse_float(t)
                        .filter(|s| s.is_finite())
                        .map(|s| (s * 1000.0).round() as i64)
                } else {
                    t.parse::<i64>().ok()
                }
                .ok_or_else(|| scan::At {
                    offset: at,
                    msg: format!(
                        "expected a timestamp ({}), found {t:?}",
                        if om { "seconds" } else { "milliseconds" }
                    ),
                })?,
            );
            c.blanks();
        }
        if om && c.peek() == Some(b'#') {
            exemplar(&mut c)?;
        }
        if !c.at_end() {
            return c.err(format!("expected the end of the line, found {}", c.found()));
        }
        Ok((name, value, ts))
    }

    /// The next sample; `Some(Err)` ends a strict parse.
    pub fn next_sample(&mut self) -> Option<Result<Sample<'_, 'a>, ParseError>> {
        while !self.done {
            if self.pos >= self.body.len() {
                self.done = true;
                if self.format == Format::OpenMetrics && !self.eof {
                    let e = self.error(
                        "",
                        scan::At {
                            offset: 0,
                            msg: "expected # EOF at the end".into(),
                        },
                    );
                    if self.strict {
                        return Some(Err(e));
                    }
                }
                return None;
            }
            let rest = &self.body[self.pos..];
            let len = rest.find('\n').unwrap_or(rest.len());
            let line = rest[..len].strip_suffix('\r').unwrap_or(&rest[..len]);
            self.pos += len + 1;
            self.line += 1;
            let om = self.format == Format::OpenMetrics;
            let text = if om { line } else { line.trim_start() };
            let outcome = if self.eof {
                Err(scan::At {
                    offset: 0,
                    msg: "expected nothing after # EOF".into(),
                })
            } else if text.is_empty() {
                if om && self.pos < self.body.len() {
                    Err(scan::At {
                        offset: 0,
                        msg: "expected a sample or a # line, found an empty line".into(),
                    })
                } else {
                    continue;
                }
            } else if text.starts_with('#') {
                self.comment(text).map(|()| None)
            } else {
                self.sample(text).map(Some)
            };
            let e = match outcome {
                Ok(None) => continue,
                Ok(Some((name, value, timestamp_ms))) => {
                    let kind = self.family(name);
                    if kind == Kind::Histogram
                        && name.ends_with("_bucket")
                        && !self.labels.iter().any(|(n, _)| *n == "le")
                    {
                        let at = scan::At {
                            offset: 0,
                            msg: format!("histogram bucket {name} has no le label"),
                        };
                        self.error(text, at)
                    } else if !self.first_time(name) {
                        let at = scan::At {
                            offset: 0,
                            msg: format!("duplicate series {name}"),
                        };
                        let e = self.error(text, at);
                        if self.strict {
                            self.done = true;
                            return Some(Err(e));
                        }
                        self.duplicates += 1;
                        continue;
                    } else {
                        return Some(Ok(Sample {
                            name,
                            labels: &self.labels,
                            value,
                            timestamp_ms,
                            kind,
                            line: self.line,
                        }));
                    }
                }
                Err(at) => self.error(text, at),
            };
            if self.strict {
                self.done = true;
                return Some(Err(e));
            }
            self.skipped += 1;
        }
        None
    }

    /// Records the series; false if it was seen before in this body.
    fn first_time(&mut self, name: &str) -> bool {
        let mut order: [usize; 32] = std::array::from_fn(|i| i);
        let n = self.labels.len();
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.add(name);
        if n <= order.len() {
            let labels = &self.labels;
            order[..n].sort_unstable_by_key(|i| labels[*i].0);
            for i in &order[..n] {
                h.add(labels[*i].0);
                h.add(&labels[*i].1);
            }
        } else {
            let mut sorted: Vec<_> = self.labels.iter().collect();
            sorted.sort_unstable_by_key(|l| l.0);
            for (k, v) in sorted {
                h.add(k);
                h.add(v);
            }
        }
        self.seen.insert(h.0)
    }
}

/// ` # {labels} value [timestamp]` after an OpenMetrics sample: checked,
/// then dropped (dozor does not store exemplars).
fn exemplar(c: &mut Cursor<'_>) -> Result<(), scan::At> {
    c.i += 1;
    if c.blanks() == 0 {
        return c.err("expected a space after '#' before the exemplar");
    }
    c.expect(b'{', "'{' to open the exemplar's labels")?;
    let mut labels = Vec::new();
    c.labels(&mut labels)?;
    let chars: usize = labels
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    if chars > 128 {
        return c.err("exemplar labels longer than 128 characters");
    }
    if c.blanks() == 0 {
        return c.err("expected a space and the exemplar's value");
    }
    c.value()?;
    if c.blanks() > 0 && !c.at_end() {
        let at = c.i;
        if scan::parse_float(c.token()).is_none() {
            c.i = at;
            return c.err(format!(
                "expected the exemplar's timestamp, found {}",
                c.found()
            ));
        }
        c.blanks();
    }
    Ok(())
}
