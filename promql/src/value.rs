//! PromQL values. Label sets here include `__name__`.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// A label set, shared: every step of a range query hands out the same
/// series' labels, and a clone is a reference count, not a map copy.
/// Reads go through `Deref`; a change (`DerefMut`) copies the map first
/// only while another holder shares it.
#[derive(Clone, Default, PartialOrd, Ord)]
pub struct Metric(Arc<BTreeMap<String, String>>);

impl Metric {
    pub fn new() -> Self {
        Self::default()
    }

    /// The map itself, copied only if shared.
    pub fn into_map(self) -> BTreeMap<String, String> {
        Arc::unwrap_or_clone(self.0)
    }
}

impl PartialEq for Metric {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Metric {}

// By the map, as equality is (the pointer test is only a shortcut).
impl std::hash::Hash for Metric {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Deref for Metric {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Metric {
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

impl From<BTreeMap<String, String>> for Metric {
    fn from(m: BTreeMap<String, String>) -> Self {
        Self(Arc::new(m))
    }
}

impl From<Metric> for BTreeMap<String, String> {
    fn from(m: Metric) -> Self {
        m.into_map()
    }
}

impl FromIterator<(String, String)> for Metric {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(Arc::new(iter.into_iter().collect()))
    }
}

impl<'a> IntoIterator for &'a Metric {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Metric {
    type Item = (String, String);
    type IntoIter = std::collections::btree_map::IntoIter<String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_map().into_iter()
    }
}

impl serde::Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

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
