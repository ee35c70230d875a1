//! The byte-level scanner under the exposition parser: one cursor over one
//! line, and the tokens of a sample line (names, label sets, numbers).
//! No regex, no allocation except for label values that hold escapes.

use std::borrow::Cow;

/// An error inside one line: byte offset and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct At {
    pub offset: usize,
    pub msg: String,
}

pub type Result<T> = std::result::Result<T, At>;

pub struct Cursor<'a> {
    pub line: &'a str,
    pub i: usize,
}

fn name_start(b: u8, colon: bool) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || (colon && b == b':')
}

fn name_char(b: u8, colon: bool) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || (colon && b == b':')
}

impl<'a> Cursor<'a> {
    pub fn new(line: &'a str) -> Self {
        Self { line, i: 0 }
    }

    pub fn err<T>(&self, msg: impl Into<String>) -> Result<T> {
        Err(At {
            offset: self.i,
            msg: msg.into(),
        })
    }

    pub fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.i).copied()
    }

    pub fn at_end(&self) -> bool {
        self.i >= self.line.len()
    }

    /// Skips spaces and tabs; returns how many.
    pub fn blanks(&mut self) -> usize {
        let start = self.i;
        let b = self.line.as_bytes();
        while self.i < b.len() && (b[self.i] == b' ' || b[self.i] == b'\t') {
            self.i += 1;
        }
        self.i - start
    }

    pub fn expect(&mut self, c: u8, what: &str) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(format!("expected {what}, found {}", self.found()))
        }
    }

    /// What is at the cursor, for error messages.
    pub fn found(&self) -> String {
        match self.line[self.i..].chars().next() {
            None => "the end of the line".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    /// A metric name (`colon`) or label name.
    pub fn name(&mut self, colon: bool, what: &str) -> Result<&'a str> {
        let b = self.line.as_bytes();
        let start = self.i;
        if !b.get(start).is_some_and(|c| name_start(*c, colon)) {
            return self.err(format!("expected {what}, found {}", self.found()));
        }
        self.i += 1;
        while self.i < b.len() && name_char(b[self.i], colon) {
            self.i += 1;
        }
        Ok(&self.line[start..self.i])
    }

    /// A quoted label value after the opening quote; escapes `\\`, `\"`
    /// and `\n`. Borrowed unless it holds an escape.
    pub fn quoted(&mut self) -> Result<Cow<'a, str>> {
        let b = self.line.as_bytes();
        let start = self.i;
        while self.i < b.len() && b[self.i] != b'"' && b[self.i] != b'\\' {
            self.i += 1;
        }
        if self.i >= b.len() {
            return self.err("expected a closing '\"' for the label value");
        }
        if b[self.i] == b'"' {
            let v = &self.line[start..self.i];
            self.i += 1;
            return Ok(Cow::Borrowed(v));
        }
        let mut out = String::with_capacity(self.i - start + 8);
        out.push_str(&self.line[start..self.i]);
        loop {
            match b.get(self.i) {
                None => return self.err("expected a closing '\"' for the label value"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let c = match b.get(self.i + 1) {
                        Some(b'\\') => '\\',
                        Some(b'"') => '"',
                        Some(b'n') => '\n',
                        _ => {
                            self.i += 1;
                            return self.err(format!(
                                "expected \\\\, \\\" or \\n, found \\{}",
                                self.found().trim_matches('\'')
                            ));
                        }
                    };
                    out.push(c);
                    self.i += 2;
                }
                Some(_) => {
                    // Copy up to the next quote or backslash at once.
                    let s = self.i;
                    while self.i < b.len() && b[self.i] != b'"' && b[self.i] != b'\\' {
                        self.i += 1;
                    }
                    out.push_str(&self.line[s..self.i]);
                }
            }
        }
    }

    /// `{name="value", …}` (trailing comma allowed), after the `{`; pairs
    /// are appended to `into`. Duplicate names are an error.
    pub fn labels(&mut self, into: &mut Vec<(&'a str, Cow<'a, str>)>) -> Result<()> {
        let first = into.len();
        loop {
            self.blanks();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(());
            }
            let at = self.i;
            let name = self.name(false, "a label name or '}'")?;
            if into[first..].iter().any(|(n, _)| *n == name) {
                self.i = at;
                return self.err(format!("duplicate label name {name:?}"));
            }
            self.blanks();
            self.expect(b'=', "'=' after the label name")?;
            self.blanks();
            self.expect(b'"', "'\"' to open the label value")?;
            let value = self.quoted()?;
            into.push((name, value));
            self.blanks();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return self.err(format!("expected ',' or '}}', found {}", self.found())),
            }
        }
    }

    /// The next token up to a blank or the end.
    pub fn token(&mut self) -> &'a str {
        let b = self.line.as_bytes();
        let start = self.i;
        while self.i < b.len() && b[self.i] != b' ' && b[self.i] != b'\t' {
            self.i += 1;
        }
        &self.line[start..self.i]
    }

    /// A sample value: a float, `NaN`, `+Inf` or `-Inf`.
    pub fn value(&mut self) -> Result<f64> {
        let at = self.i;
        let t = self.token();
        parse_float(t).ok_or_else(|| At {
            offset: at,
            msg: if t.is_empty() {
                format!("expected a value, found {}", self.found())
            } else {
                format!("expected a number, NaN, +Inf or -Inf as the value, found {t:?}")
            },
        })
    }
}

/// Go's ParseFloat spellings that exposition uses; Rust's parser takes
/// the rest (and `inf`/`nan` in any case, as Go does).
pub fn parse_float(t: &str) -> Option<f64> {
    match t {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        // Rust accepts these; the formats do not.
        "" | "+" | "-" => None,
        _ if t.contains('_') => None,
        _ => t.parse().ok(),
    }
}

/// Undoes HELP escapes: `\\` and `\n` (and `\"` in OpenMetrics).
pub fn unescape_help(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}
