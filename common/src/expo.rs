//! The Prometheus text exposition format (0.0.4) and OpenMetrics text:
//! the encoder here, dozor's own parser in `parse` (over `scan`).

mod hash;
pub mod kinds;
pub mod parse;
pub mod scan;

pub use parse::{Format, Kind, ParseError, Parser};

use crate::model::format_value;
use std::fmt::Write as _;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes `\`, `"` and newline, as the format requires in label values.
pub fn escape_label_value_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
        }
    }
}

/// Writes one metric family at a time; callers must not interleave families.
#[derive(Default)]
pub struct Encoder {
    out: String,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn family(&mut self, name: &str, help: &str, kind: MetricType) {
        let _ = write!(self.out, "# HELP {name} ");
        escape_help_into(&mut self.out, help);
        let _ = writeln!(self.out, "\n# TYPE {name} {}", kind.as_str());
    }

    /// A `# TYPE` line without `# HELP` (federation has no help texts).
    pub fn family_type(&mut self, name: &str, kind: MetricType) {
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// A sample line with an explicit timestamp in milliseconds.
    pub fn sample_at(&mut self, name: &str, labels: &[(&str, &str)], value: f64, ts_ms: i64) {
        self.sample(name, labels, value);
        self.out.pop();
        let _ = writeln!(self.out, " {ts_ms}");
    }

    /// One sample line. `labels` are written in the given order.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"");
                escape_label_value_into(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&format_value(value));
        self.out.push('\n');
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_families() {
        let mut e = Encoder::new();
        e.family("x_total", "a \\ help\nline", MetricType::Counter);
        e.sample("x_total", &[("a", "q\"\n\\")], 1.0);
        e.sample("x_total", &[], f64::INFINITY);
        assert_eq!(
            e.finish(),
            "# HELP x_total a \\\\ help\\nline\n# TYPE x_total counter\n\
             x_total{a=\"q\\\"\\n\\\\\"} 1\nx_total +Inf\n"
        );
    }
}
