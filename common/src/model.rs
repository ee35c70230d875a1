//! The Prometheus data model: a series is a metric name plus a sorted label
//! set; a sample is a millisecond timestamp and an f64.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

mod value_text;
pub use value_text::{format_value, parse_value, write_value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("invalid metric name {0:?}: must be non-empty UTF-8 without NUL")]
    MetricName(String),
    #[error("invalid label name {0:?}: must be non-empty UTF-8 without NUL, and not __name__")]
    LabelName(String),
    #[error("label {0:?} appears more than once")]
    DuplicateLabel(String),
    /// PostgreSQL cannot store a NUL in text, so no backend takes one.
    #[error("value of label {0:?} contains a NUL byte")]
    NulByte(String),
}

/// Sorted label pairs, excluding the metric name. Sorting makes the textual
/// key (and so the fingerprint) independent of the order an agent sent them.
pub type Labels = BTreeMap<String, String>;

/// One sample. Values travel as JSON numbers when finite and as the strings
/// `"NaN"`, `"+Inf"`, `"-Inf"` otherwise, because JSON has no such numbers
/// and Prometheus staleness markers are NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub ts_ms: i64,
    pub value: f64,
}

impl Sample {
    pub fn new(ts_ms: i64, value: f64) -> Self {
        Self { ts_ms, value }
    }
}

/// Prometheus's staleness marker: a NaN with this exact bit pattern. It
/// travels as the string `"stale"` (a plain NaN as `"NaN"`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

impl Serialize for Sample {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.ts_ms)?;
        if self.value.is_finite() {
            t.serialize_element(&self.value)?;
        } else if is_stale(self.value) {
            t.serialize_element("stale")?;
        } else {
            t.serialize_element(format_value(self.value).as_str())?;
        }
        t.end()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireValue {
    Num(f64),
    Str(String),
}

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (ts_ms, v): (i64, WireValue) = Deserialize::deserialize(d)?;
        let value = match v {
            WireValue::Num(n) => n,
            WireValue::Str(s) if s == "stale" => stale_nan(),
            WireValue::Str(s) => parse_value(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid sample value {s:?}")))?,
        };
        Ok(Sample { ts_ms, value })
    }
}

/// Whether a sample re-sent for a stored timestamp carries the same value:
/// numerically equal, or both NaN and both (or neither) staleness markers.
/// `-0` equals `0`, since a store may not keep the sign of zero.
pub fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan() && is_stale(a) == is_stale(b))
}

/// All samples of one series in a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "WireSeries")]
pub struct SeriesBatch {
    pub name: String,
    #[serde(default)]
    pub labels: Labels,
    pub samples: Vec<Sample>,
    /// A label name sent twice, found while decoding (a map keeps only
    /// one of them); [`SeriesBatch::validate`] refuses the series for it.
    #[serde(skip)]
    pub duplicate_label: Option<String>,
}

/// A series as it arrives, with its labels checked for repeated names.
#[derive(Deserialize)]
struct WireSeries {
    name: String,
    #[serde(default)]
    labels: CheckedLabels,
    samples: Vec<Sample>,
}

impl From<WireSeries> for SeriesBatch {
    fn from(w: WireSeries) -> Self {
        SeriesBatch {
            name: w.name,
            labels: w.labels.labels,
            samples: w.samples,
            duplicate_label: w.labels.duplicate,
        }
    }
}

#[derive(Default)]
struct CheckedLabels {
    labels: Labels,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for CheckedLabels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = CheckedLabels;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of label names to string values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = CheckedLabels::default();
                while let Some((k, v)) = m.next_entry::<String, String>()? {
                    match out.labels.entry(k) {
                        std::collections::btree_map::Entry::Occupied(e) => {
                            out.duplicate.get_or_insert_with(|| e.key().clone());
                        }
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(v);
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Visit)
    }
}

impl SeriesBatch {
    pub fn new(name: impl Into<String>, labels: Labels, samples: Vec<Sample>) -> Self {
        Self {
            name: name.into(),
            labels,
            samples,
            duplicate_label: None,
        }
    }

    /// Checks the names and values every backend can store; the caller
    /// reports the error with the series' position so a user can find it.
    /// Sizes are limited by the server's configured label limits.
    pub fn validate(&self) -> Result<(), ModelError> {
        validate_metric_name(&self.name)?;
        if let Some(k) = &self.duplicate_label {
            return Err(ModelError::DuplicateLabel(k.clone()));
        }
        for (k, v) in &self.labels {
            validate_label_name(k)?;
            if v.contains('\0') {
                return Err(ModelError::NulByte(k.clone()));
            }
        }
        Ok(())
    }

    /// The canonical text of the series, `name{a="1",b="2"}`, with label
    /// values escaped as in the exposition format. Two series are the same
    /// exactly when their keys are equal.
    pub fn key(&self) -> String {
        series_key(&self.name, &self.labels)
    }
}

/// Classic names are written as they always were, so keys stored before
/// UTF-8 names were accepted stay the same; any other name is quoted, so
/// no name can pose as another label set (`a="1",b` is one label).
pub fn series_key(name: &str, labels: &Labels) -> String {
    let mut out = String::with_capacity(name.len() + labels.len() * 24);
    write_name(&mut out, name, is_legacy_metric_name(name));
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_name(&mut out, k, is_label_name(k));
        out.push_str("=\"");
        crate::expo::escape_label_value_into(&mut out, v);
        out.push('"');
    }
    out.push('}');
    out
}

/// A stable 64-bit fingerprint of the canonical key (FNV-1a). It is only an
/// index: storage keeps the full labels and detects collisions.
pub fn fingerprint(key: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// Any non-empty UTF-8 without NUL, as Prometheus 3 accepts
/// (`otel.metric`, `http.server.duration`). PostgreSQL cannot hold a NUL.
pub fn validate_metric_name(name: &str) -> Result<(), ModelError> {
    if name.is_empty() || name.contains('\0') {
        Err(ModelError::MetricName(name.to_string()))
    } else {
        Ok(())
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`: a metric name every Prometheus (and the
/// text format without quoting) can take as it is.
pub fn is_legacy_metric_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit())
        })
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, the classic Prometheus label-name syntax:
/// names that can be written unquoted, and the only ones dozor puts in
/// SQL JSON paths or accepts as a destination in PromQL functions.
pub fn is_label_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()))
}

/// A label a sender may store: non-empty UTF-8 without NUL, as in
/// Prometheus 3 (`service.name`, and `__`-prefixed ones such as
/// `__type__`), but not `__name__`, which is the metric name itself.
pub fn validate_label_name(name: &str) -> Result<(), ModelError> {
    if name.is_empty() || name.contains('\0') || name == "__name__" {
        Err(ModelError::LabelName(name.to_string()))
    } else {
        Ok(())
    }
}

/// Writes a name as the text format (and series keys) need it: as it is
/// when it has the classic syntax, else quoted and escaped like a label
/// value (Prometheus 3's `{"otel.metric", "service.name"="api"}`).
pub fn write_name(out: &mut String, name: &str, legacy: bool) {
    if legacy {
        out.push_str(name);
    } else {
        out.push('"');
        crate::expo::escape_label_value_into(out, name);
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn key_is_sorted_and_escaped() {
        let b = SeriesBatch::new("up", labels(&[("z", "a\"b"), ("a", "x,y=}\n\\")]), vec![]);
        assert_eq!(b.key(), r#"up{a="x,y=}\n\\",z="a\"b"}"#);
    }

    #[test]
    fn non_finite_values_round_trip_through_json() {
        let s = vec![
            Sample::new(1, f64::NAN),
            Sample::new(2, f64::INFINITY),
            Sample::new(3, f64::NEG_INFINITY),
            Sample::new(4, 0.25),
        ];
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"[[1,"NaN"],[2,"+Inf"],[3,"-Inf"],[4,0.25]]"#);
        let back: Vec<Sample> = serde_json::from_str(&json).unwrap();
        assert!(back[0].value.is_nan());
        let stale = serde_json::to_string(&[Sample::new(5, stale_nan())]).unwrap();
        assert_eq!(stale, r#"[[5,"stale"]]"#);
        let marker: Vec<Sample> = serde_json::from_str(&stale).unwrap();
        assert!(is_stale(marker[0].value), "the marker survives the wire");
        assert_eq!(back[1].value, f64::INFINITY);
        assert_eq!(back[2].value, f64::NEG_INFINITY);
        assert_eq!(back[3].value, 0.25);
        assert!(serde_json::from_str::<Vec<Sample>>(r#"[[1,"lots"]]"#).is_err());
    }

    #[test]
    fn names_are_validated_as_prometheus_3_does() {
        for ok in [
            "node_cpu_seconds_total",
            "job:rate5m:sum",
            "otel.metric",
            "1up",
            "a-b",
        ] {
            assert!(validate_metric_name(ok).is_ok(), "{ok}");
        }
        assert!(validate_metric_name("").is_err());
        assert!(validate_metric_name("a\0b").is_err());
        for ok in ["mode", "service.name", "__type__", "a:b", "ünïcode"] {
            assert!(validate_label_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "__name__", "x\0"] {
            assert!(validate_label_name(bad).is_err(), "{bad:?}");
        }
        assert!(is_legacy_metric_name("job:rate5m:sum"));
        assert!(!is_legacy_metric_name("otel.metric"));
    }

    #[test]
    fn keys_quote_utf8_names_so_no_name_poses_as_labels() {
        let plain: Labels = [("job".to_string(), "x".to_string())].into();
        assert_eq!(series_key("up", &plain), r#"up{job="x"}"#, "unchanged");
        let dotted: Labels = [("service.name".to_string(), "api".to_string())].into();
        assert_eq!(
            series_key("otel.metric", &dotted),
            r#""otel.metric"{"service.name"="api"}"#
        );
        // One label whose name looks like two labels, against two labels.
        let tricky: Labels = [(r#"a="1",b"#.to_string(), "2".to_string())].into();
        let two: Labels = [
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]
        .into();
        assert_ne!(series_key("m", &tricky), series_key("m", &two));
    }

    #[test]
    fn repeated_label_names_and_nul_bytes_are_caught() {
        let s: SeriesBatch =
            serde_json::from_str(r#"{"name":"up","labels":{"a":"1","a":"2"},"samples":[]}"#)
                .unwrap();
        assert_eq!(s.validate(), Err(ModelError::DuplicateLabel("a".into())));
        let s: SeriesBatch =
            serde_json::from_str(r#"{"name":"up","labels":{"a":"x\u0000y"},"samples":[]}"#)
                .unwrap();
        assert_eq!(s.validate(), Err(ModelError::NulByte("a".into())));
        let s: SeriesBatch =
            serde_json::from_str(r#"{"name":"up","labels":{"a":"1","b":"2"},"samples":[[1,2]]}"#)
                .unwrap();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(
            s,
            SeriesBatch::new(
                "up",
                labels(&[("a", "1"), ("b", "2")]),
                vec![Sample::new(1, 2.0)]
            )
        );
    }

    #[test]
    fn fingerprint_depends_on_every_byte() {
        assert_ne!(fingerprint("up{a=\"1\"}"), fingerprint("up{a=\"2\"}"));
        assert_eq!(fingerprint("x"), fingerprint("x"));
    }
}
