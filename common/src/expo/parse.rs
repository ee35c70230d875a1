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

use super::hash::{Fnv, Prehashed};
pub use super::kinds::{Format, Kind, ParseError, Sample};
use super::scan::{self, Cursor};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

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
    seen: HashSet<u64, BuildHasherDefault<Prehashed>>,
    /// The last sample's family, so most lookups are one comparison.
    last: Option<(&'a str, Kind)>,
    eof: bool,
    done: bool,
    skipped: usize,
    duplicates: usize,
    first_error: Option<ParseError>,
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
            // About one sample per 64 bytes of body.
            seen: HashSet::with_capacity_and_hasher(body.len() / 64, Default::default()),
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
    fn family(&mut self, name: &'a str) -> (&'a str, Kind) {
        if let Some((f, k)) = self.last {
            if name == f || (name.starts_with(f) && SUFFIXES.contains(&&name[f.len()..])) {
                return (f, k);
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
                (f, *k)
            }
            None => (name, Kind::Unknown),
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
        let known = matches!(word, "HELP" | "TYPE") || (om && word == "UNIT");
        if !known {
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
            scan::exemplar(&mut c)?;
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
            // The text format allows leading blanks; OpenMetrics does not.
            let text = if om || !line.starts_with([' ', '\t']) {
                line
            } else {
                line.trim_start()
            };
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
                    let (family, kind) = self.family(name);
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
                            family,
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

    /// Records the series; false if it was seen before in this body. The
    /// label pairs' hashes are summed, so their order does not matter and
    /// nothing is sorted.
    fn first_time(&mut self, name: &str) -> bool {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.add(name);
        let mut sum = h.0;
        for (k, v) in &self.labels {
            let mut l = Fnv(0x9e37_79b9_7f4a_7c15);
            l.add(k);
            l.add(v);
            sum = sum.wrapping_add(l.0);
        }
        self.seen.insert(sum)
    }
}
