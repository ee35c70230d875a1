//! Prometheus remote_write 1.0 receiver: snappy-compressed protobuf
//! `WriteRequest`s, stored through the same append path as heartbeats, so
//! re-sent requests store nothing twice.
//!
//! The message types are written out with prost's derive, so building
//! needs no protoc. Field numbers follow prometheus/prompb/types.proto.

use crate::ingest::{IngestError, Limits};
use dozor_common::{Labels, Sample, SeriesBatch};
use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Sent by Prometheus every `metadata_config.send_interval`.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// prompb's MetricType: 0 unknown, 1 counter, 2 gauge, 3 histogram,
    /// 4 gaugehistogram, 5 summary, 6 info, 7 stateset.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<WireSample>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct WireSample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

fn bad(message: String, field: Option<String>) -> IngestError {
    IngestError::BadRequest { message, field }
}

/// Snappy block format, then protobuf; limits as for heartbeats.
pub fn decode(body: &[u8], limits: &Limits) -> Result<WriteRequest, IngestError> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| bad(format!("invalid snappy body: {e}"), None))?;
    if len > limits.max_decoded_bytes {
        return Err(IngestError::TooLarge(format!(
            "decompressed body would be {len} bytes; the limit is {}",
            limits.max_decoded_bytes
        )));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| bad(format!("invalid snappy body: {e}"), None))?;
    WriteRequest::decode(raw.as_slice())
        .map_err(|e| bad(format!("invalid protobuf WriteRequest: {e}"), None))
}

/// The request's metadata in dozor's model; entries without a name are
/// dropped (nothing could ever look them up).
pub fn metadata(req: &WriteRequest) -> Vec<crate::storage::MetadataEntry> {
    const KINDS: [&str; 8] = [
        "unknown",
        "counter",
        "gauge",
        "histogram",
        "gaugehistogram",
        "summary",
        "info",
        "stateset",
    ];
    req.metadata
        .iter()
        .filter(|m| dozor_common::model::validate_metric_name(&m.metric_family_name).is_ok())
        .map(|m| crate::storage::MetadataEntry {
            metric: m.metric_family_name.clone(),
            kind: KINDS
                .get(usize::try_from(m.r#type).unwrap_or(0))
                .unwrap_or(&"unknown")
                .to_string(),
            help: m.help.replace('\0', ""),
            unit: m.unit.replace('\0', ""),
        })
        .collect()
}

/// Converts to dozor's model; validation (names, timestamps, retention)
/// happens in `ingest::prepare`, like for heartbeats. A series without a
/// name or with a label name twice is kept here, marked, so validation
/// refuses it alone and the rest of the request is stored.
pub fn to_batches(req: WriteRequest) -> Result<Vec<SeriesBatch>, IngestError> {
    let mut out = Vec::with_capacity(req.timeseries.len());
    for ts in req.timeseries {
        let mut name = String::new();
        let mut labels = Labels::new();
        let mut duplicate = None;
        for l in ts.labels {
            // An empty label value means the label is absent.
            if l.value.is_empty() {
                continue;
            }
            if l.name == "__name__" {
                if !name.is_empty() {
                    duplicate.get_or_insert(l.name.clone());
                }
                name = l.value;
            } else {
                match labels.entry(l.name) {
                    std::collections::btree_map::Entry::Occupied(e) => {
                        duplicate.get_or_insert_with(|| e.key().clone());
                    }
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(l.value);
                    }
                }
            }
        }
        let samples = ts
            .samples
            .into_iter()
            .map(|s| Sample::new(s.timestamp, s.value))
            .collect();
        let mut batch = SeriesBatch::new(name, labels, samples);
        batch.duplicate_label = duplicate;
        out.push(batch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(req: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap()
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "up".into(),
                    },
                    Label {
                        name: "job".into(),
                        value: "x".into(),
                    },
                    Label {
                        name: "empty".into(),
                        value: "".into(),
                    },
                ],
                samples: vec![WireSample {
                    value: 1.0,
                    timestamp: 1000,
                }],
            }],
            ..Default::default()
        };
        let got = to_batches(decode(&encode(&req), &Limits::default()).unwrap()).unwrap();
        assert_eq!(got[0].name, "up");
        assert_eq!(got[0].labels.len(), 1);
        assert_eq!(got[0].samples, vec![Sample::new(1000, 1.0)]);
        assert!(matches!(
            decode(b"not snappy", &Limits::default()),
            Err(IngestError::BadRequest { .. })
        ));
        let nameless = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![],
                samples: vec![],
            }],
            ..Default::default()
        };
        // Kept, nameless, for validation to refuse alone.
        let got = to_batches(nameless).unwrap();
        assert!(got[0].validate().is_err());
        let twice = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "up".into(),
                    },
                    Label {
                        name: "job".into(),
                        value: "a".into(),
                    },
                    Label {
                        name: "job".into(),
                        value: "b".into(),
                    },
                ],
                samples: vec![],
            }],
            ..Default::default()
        };
        let got = to_batches(twice).unwrap();
        assert_eq!(got[0].duplicate_label.as_deref(), Some("job"));
    }
}
