//! What the parser hands out: the format, metric kinds, samples, errors.

use std::borrow::Cow;

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
    /// Prometheus's name for the type, as its metadata API gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::GaugeHistogram => "gaugehistogram",
            Self::Summary => "summary",
            Self::Info => "info",
            Self::StateSet => "stateset",
            Self::Unknown => "unknown",
        }
    }

    pub(super) fn parse(s: &str, f: Format) -> Option<Self> {
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
    /// The family named by its TYPE line (the name itself without one).
    pub family: &'a str,
    /// In the order given.
    pub labels: &'p [(&'a str, Cow<'a, str>)],
    pub value: f64,
    pub timestamp_ms: Option<i64>,
    /// Its family's TYPE (Unknown without one).
    pub kind: Kind,
    pub line: usize,
}
