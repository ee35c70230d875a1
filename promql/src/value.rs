//! PromQL values. Label sets here include `__name__`.

use std::collections::BTreeMap;

pub type Metric = BTreeMap<String, String>;

pub const NAME: &str = "__name__";

/// Prometheus's staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub metric: Metric,
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector or range-query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub metric: Metric,
    pub points: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Prometheus's message when a result holds one label set twice.
pub const SAME_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// Whether two elements share a label set: after a function or operator
/// dropped the metric name (`{__name__=~"a|b"} * 1`), or a function
/// rewrote labels. Prometheus fails such a query rather than answer with
/// two series it cannot tell apart; so does dozor, at every node.
pub fn has_same_labelset(vs: &[Sample]) -> bool {
    if vs.len() < 2 {
        return false;
    }
    let mut seen = std::collections::HashSet::with_capacity(vs.len());
    vs.iter().any(|s| !seen.insert(&s.metric))
}

pub fn without_name(m: &Metric) -> Metric {
    m.iter()
        .filter(|(k, _)| k.as_str() != NAME)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Canonical text of a label set, for grouping and duplicate detection.
pub fn signature(m: &Metric) -> String {
    let mut s = String::new();
    for (k, v) in m {
        s.push_str(k);
        s.push('\u{1}');
        s.push_str(v);
        s.push('\u{2}');
    }
    s
}

/// Formats a float as Go's strconv.FormatFloat(f, 'f', -1, 64) does in
/// Prometheus's label values and JSON: shortest round-trip decimal, no
/// exponent, and NaN / +Inf / -Inf.
pub fn format_float(v: f64) -> String {
    dozor_common::model::format_value(v)
}
