//! The Prometheus text exposition format (0.0.4) and OpenMetrics text:
//! the encoder here, dozor's own parser in `parse` (over `scan`).

mod hash;
pub mod kinds;
pub mod parse;
pub mod scan;

pub use parse::{Format, Kind, ParseError, Parser};

use crate::model::{format_value, is_label_name, is_legacy_metric_name, write_name};
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

/// Prometheus's "underscores" name escaping: every character a classic
/// name cannot hold becomes `_` (a leading digit too), for readers that
/// do not take quoted UTF-8 names.
pub fn escape_underscores(name: &str, metric: bool) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            let ok = c.is_ascii_alphabetic()
                || c == '_'
                || (metric && c == ':')
                || (i > 0 && c.is_ascii_digit());
            if ok {
                c
            } else {
                '_'
            }
        })
        .collect()
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

    /// The name Prometheus's metadata API gives the type ("unknown" for
    /// untyped).
    pub fn prometheus_name(self) -> &'static str {
        match self {
            MetricType::Untyped => "unknown",
            other => other.as_str(),
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
        self.out.push_str("# HELP ");
        write_name(&mut self.out, name, is_legacy_metric_name(name));
        self.out.push(' ');
        escape_help_into(&mut self.out, help);
        self.out.push('\n');
        self.family_type(name, kind);
    }

    /// A `# TYPE` line without `# HELP` (federation has no help texts).
    pub fn family_type(&mut self, name: &str, kind: MetricType) {
        self.out.push_str("# TYPE ");
        write_name(&mut self.out, name, is_legacy_metric_name(name));
        let _ = writeln!(self.out, " {}", kind.as_str());
    }

    /// A sample line with an explicit timestamp in milliseconds.
    pub fn sample_at(&mut self, name: &str, labels: &[(&str, &str)], value: f64, ts_ms: i64) {
        self.sample(name, labels, value);
        self.out.pop();
        let _ = writeln!(self.out, " {ts_ms}");
    }

    /// One sample line. `labels` are written in the given order; a name
    /// outside the classic syntax is quoted as Prometheus 3's text format
    /// does (`{"otel.metric","service.name"="api"} 1`).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let legacy = is_legacy_metric_name(name);
        if legacy {
            self.out.push_str(name);
        }
        if !labels.is_empty() || !legacy {
            self.out.push('{');
            if !legacy {
                write_name(&mut self.out, name, false);
            }
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 || !legacy {
                    self.out.push(',');
                }
                write_name(&mut self.out, k, is_label_name(k));
                self.out.push_str("=\"");
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

    #[test]
    fn utf8_names_are_quoted_as_prometheus_3_writes_them() {
        let mut e = Encoder::new();
        e.family_type("otel.metric", MetricType::Untyped);
        e.sample("otel.metric", &[("service.name", "api"), ("job", "x")], 1.0);
        e.sample("otel.metric", &[], 2.0);
        e.sample("up", &[("a\"b", "1")], 3.0);
        assert_eq!(
            e.finish(),
            "# TYPE \"otel.metric\" untyped\n\
             {\"otel.metric\",\"service.name\"=\"api\",job=\"x\"} 1\n\
             {\"otel.metric\"} 2\n\
             up{\"a\\\"b\"=\"1\"} 3\n"
        );
        assert_eq!(escape_underscores("otel.metric", true), "otel_metric");
        assert_eq!(escape_underscores("9lives:x", true), "_lives:x");
        assert_eq!(escape_underscores("a:b", false), "a_b");
    }
}
