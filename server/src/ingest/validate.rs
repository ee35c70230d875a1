//! Checking a batch before it is stored. One bad series or sample never
//! blocks the good ones beside it: a series with a bad name, a repeated
//! label, a NUL byte or labels over the limits is set aside alone, and so
//! is a sample outside the accepted time range; each is counted by reason
//! and named in the answer. Only what says something about the sender as
//! a whole refuses the batch: too many samples, or another host's label.

use super::{labels, IngestError, Limits};
use dozor_common::protocol::{HeartbeatRequest, Rejected, HOST_LABEL};
use dozor_common::{ModelError, SeriesBatch};
use std::collections::BTreeMap;

/// What validation set aside; what remains in the request is stored.
#[derive(Debug, Default)]
pub struct Checked {
    pub rejected: Rejected,
    /// Series set aside, by reason (the label of
    /// `dozor_ingest_rejected_series_total`).
    pub series_reasons: BTreeMap<&'static str, u64>,
    /// Samples set aside, by reason (`dozor_ingest_dropped_samples_total`).
    pub sample_reasons: BTreeMap<&'static str, u64>,
}

impl Checked {
    /// Samples older than the retention window (the response's
    /// `dropped_samples`).
    pub fn too_old(&self) -> u64 {
        self.sample_reasons.get("too_old").copied().unwrap_or(0)
    }

    fn series(&mut self, reason: &'static str, what: String) {
        *self.series_reasons.entry(reason).or_default() += 1;
        self.rejected.series += 1;
        self.rejected.example(what);
    }

    /// Counts `n` samples set aside for `reason`, with one example.
    pub fn samples(&mut self, reason: &'static str, n: u64, what: String) {
        if n == 0 {
            return;
        }
        *self.sample_reasons.entry(reason).or_default() += n;
        self.rejected.samples += n;
        self.rejected.example(what);
    }
}

/// How a series is named in messages: its position and (a bounded piece
/// of) its metric name.
fn describe(i: usize, s: &SeriesBatch) -> String {
    let name: String = s.name.chars().take(100).collect();
    format!("series[{i}] ({name})")
}

fn model_reason(e: &ModelError) -> &'static str {
    match e {
        ModelError::MetricName(_) => "invalid_name",
        ModelError::LabelName(_) => "invalid_label",
        ModelError::DuplicateLabel(_) => "duplicate_label",
        ModelError::NulByte(_) => "nul_byte",
    }
}

/// Validates names, label limits and timestamps; stamps `host` from the
/// agent's identity (when there is one: remote_write has none).
pub fn prepare(
    agent: Option<&str>,
    req: &mut HeartbeatRequest,
    now_ms: i64,
    retention_ms: i64,
    limits: &Limits,
) -> Result<Checked, IngestError> {
    let total = req.sample_count();
    if total > limits.max_samples {
        return Err(IngestError::TooLarge(format!(
            "{total} samples in one request; the limit is {}",
            limits.max_samples
        )));
    }
    let oldest = now_ms - retention_ms;
    let newest = now_ms + limits.max_future_ms;
    let mut out = Checked::default();
    let mut keep = Vec::with_capacity(req.series.len());
    for (i, mut s) in std::mem::take(&mut req.series).into_iter().enumerate() {
        if let Err(e) = s.validate() {
            out.series(model_reason(&e), format!("{}: {e}", describe(i, &s)));
            continue;
        }
        if let Err(e) = labels::check(&s, &limits.labels) {
            out.series("label_limit", format!("{}: {e}", describe(i, &s)));
            continue;
        }
        if let Some(agent) = agent {
            match s.labels.get(HOST_LABEL) {
                // Not a bad series but a confused or hostile agent.
                Some(h) if h != agent => {
                    return Err(IngestError::Forbidden {
                        message: format!(
                            "agent {agent:?} cannot write series for host {h:?}; the host label comes from the agent key"
                        ),
                        field: Some(format!("series[{i}].labels.host")),
                    })
                }
                Some(_) => {}
                None => {
                    s.labels.insert(HOST_LABEL.to_string(), agent.to_string());
                }
            }
        }
        let before = s.samples.len();
        s.samples.retain(|p| p.ts_ms >= oldest);
        let old = (before - s.samples.len()) as u64;
        out.samples(
            "too_old",
            old,
            format!(
                "{}: {old} sample(s) older than the retention window (before {oldest} ms); check the sender's clock, or the timestamp unit (milliseconds)",
                describe(i, &s)
            ),
        );
        let before = s.samples.len();
        s.samples.retain(|p| p.ts_ms <= newest);
        let new = (before - s.samples.len()) as u64;
        out.samples(
            "too_new",
            new,
            format!(
                "{}: {new} sample(s) more than {} s ahead of the server clock; check the sender's clock (NTP)",
                describe(i, &s),
                limits.max_future_ms / 1000
            ),
        );
        if !s.samples.is_empty() {
            keep.push(s);
        }
    }
    req.series = keep;
    Ok(out)
}
