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

/// Byte classes for names: bit 1 may start a label name, bit 2 may
/// continue one, bit 4 is the colon metric names also allow.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphabetic() || b == b'_' {
            t[i] = 1 | 2;
        } else if b.is_ascii_digit() {
            t[i] = 2;
        } else if b == b':' {
            t[i] = 4;
        }
        i += 1;
    }
    t
};

fn name_start(b: u8, colon: bool) -> bool {
    CLASS[b as usize] & (1 | if colon { 4 } else { 0 }) != 0
}

fn name_char(b: u8, colon: bool) -> bool {
    CLASS[b as usize] & (2 | if colon { 4 } else { 0 }) != 0
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
    #[inline]
    pub fn blanks(&mut self) -> usize {
        let start = self.i;
        let b = self.line.as_bytes();
        while self.i < b.len() && (b[self.i] == b' ' || b[self.i] == b'\t') {
            self.i += 1;
        }
        self.i - start
    }

    #[inline]
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
    #[inline]
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
    if let Some(v) = fast_decimal(t.as_bytes()) {
        return Some(v);
    }
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

/// `[-]digits[.digits]` with at most 15 digits: the mantissa and the power
/// of ten are both exact in an f64, so one division is correctly rounded
/// (Clinger's fast path). Anything else goes to the full parser.
#[inline]
fn fast_decimal(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut frac: Option<usize> = None;
    for (i, c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + (c - b'0') as u64;
                count += 1;
            }
            b'.' if frac.is_none() && i > 0 && i + 1 < digits.len() => {
                frac = Some(digits.len() - i - 1)
            }
            _ => return None,
        }
    }
    if count > 15 {
        return None;
    }
    let v = mantissa as f64 / POW10[frac.unwrap_or(0)];
    Some(if neg { -v } else { v })
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

/// ` # {labels} value [timestamp]` after an OpenMetrics sample: checked,
/// then dropped (dozor does not store exemplars).
pub fn exemplar(c: &mut Cursor<'_>) -> Result<()> {
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
        if parse_float(c.token()).is_none() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_agrees_with_the_full_parser_bit_for_bit() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let digits = (next() % 16 + 1) as usize;
            let mut s: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            if digits > 1 && next() % 2 == 0 {
                let at = (next() as usize % (digits - 1)) + 1;
                s.insert(at, '.');
            }
            if next() % 3 == 0 {
                s.insert(0, '-');
            }
            let full: f64 = s.parse().unwrap();
            match fast_decimal(s.as_bytes()) {
                Some(v) => assert_eq!(v.to_bits(), full.to_bits(), "{s}"),
                None => assert!(
                    s.trim_start_matches('-').replace('.', "").len() > 15,
                    "{s} left to the full parser"
                ),
            }
        }
        for t in ["", "-", ".5", "5.", "1.2.3", "1e5", "0x10", "+1"] {
            assert_eq!(fast_decimal(t.as_bytes()), None, "{t}");
        }
        assert_eq!(parse_float("1e5"), Some(1e5));
        assert_eq!(
            parse_float("-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
    }
}
