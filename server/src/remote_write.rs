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

/// Converts to dozor's model; validation (names, timestamps, retention)
/// happens in `ingest::prepare`, like for heartbeats.
pub fn to_batches(req: WriteRequest) -> Result<Vec<SeriesBatch>, IngestError> {
    let mut out = Vec::with_capacity(req.timeseries.len());
    for (i, ts) in req.timeseries.into_iter().enumerate() {
        let mut name = None;
        let mut labels = Labels::new();
        for l in ts.labels {
            // An empty label value means the label is absent.
            if l.value.is_empty() {
                continue;
            }
            if l.name == "__name__" {
                name = Some(l.value);
            } else {
                labels.insert(l.name, l.value);
            }
        }
        let name = name.ok_or_else(|| {
            bad(
                "series without a __name__ label".into(),
                Some(format!("timeseries[{i}].labels")),
            )
        })?;
        let samples = ts
            .samples
            .into_iter()
            .map(|s| Sample::new(s.timestamp, s.value))
            .collect();
        out.push(SeriesBatch::new(name, labels, samples));
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
        };
        assert!(to_batches(nameless).is_err());
    }
}
