//! The ingest path shared by the HTTP heartbeat handler and the embedded
//! local collector: decode → validate → stamp `host` → append (commit) →
//! record the heartbeat → hand back pending tasks.

pub mod cardinality;
mod labels;
mod validate;

pub use labels::LabelLimits;
pub use validate::{prepare, Checked};

use crate::storage::{AgentRecord, StorageError, Store};
use crate::telemetry::Telemetry;
use dozor_common::protocol::{HeartbeatRequest, HeartbeatResponse};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;
use tracing::instrument;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body as sent (compressed).
    pub max_body_bytes: usize,
    /// Largest body after decompression; guards against zip bombs.
    pub max_decoded_bytes: usize,
    pub max_samples: usize,
    /// How far ahead of the server's clock a sample may be.
    pub max_future_ms: i64,
    pub max_tasks_per_heartbeat: usize,
    pub labels: LabelLimits,
    /// Distinct active series one agent may write (see `cardinality`).
    pub max_series_per_agent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 << 20,
            max_decoded_bytes: 64 << 20,
            max_samples: 250_000,
            max_future_ms: 10 * 60_000,
            max_tasks_per_heartbeat: 32,
            labels: LabelLimits::default(),
            max_series_per_agent: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    #[error("{message}")]
    Forbidden {
        message: String,
        field: Option<String>,
    },
    #[error("{0}")]
    TooLarge(String),
    /// Over the agent's series cardinality limit.
    #[error("{0}")]
    TooManySeries(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl IngestError {
    /// The `reason` label of `dozor_ingest_errors_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::BadRequest { .. } => "malformed",
            IngestError::Forbidden { .. } => "forbidden_label",
            IngestError::TooLarge(_) => "too_large",
            IngestError::TooManySeries(_) => "series_limit",
            IngestError::Unavailable(_) => "storage_unavailable",
            IngestError::Internal(_) => "internal",
        }
    }
}

impl From<StorageError> for IngestError {
    fn from(e: StorageError) -> Self {
        if e.is_unavailable() {
            IngestError::Unavailable(e.to_string())
        } else {
            IngestError::Internal(e.to_string())
        }
    }
}

/// Decompresses (zstd, gzip or none) within `limits` and parses the JSON,
/// naming the field at fault when it does not fit the protocol.
pub fn decode(
    body: &[u8],
    encoding: Option<&str>,
    limits: &Limits,
) -> Result<HeartbeatRequest, IngestError> {
    let cap = limits.max_decoded_bytes as u64;
    let mut decoded = Vec::new();
    let res = match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("identity") => {
            decoded.extend_from_slice(body);
            Ok(())
        }
        Some("zstd") => zstd::stream::read::Decoder::new(body)
            .and_then(|d| d.take(cap + 1).read_to_end(&mut decoded).map(|_| ())),
        Some("gzip") => flate2::read::GzDecoder::new(body)
            .take(cap + 1)
            .read_to_end(&mut decoded)
            .map(|_| ()),
        Some(other) => {
            return Err(IngestError::BadRequest {
                message: format!("unsupported Content-Encoding {other:?}; use zstd, gzip or none"),
                field: None,
            })
        }
    };
    res.map_err(|e| IngestError::BadRequest {
        message: format!("cannot decompress body: {e}"),
        field: None,
    })?;
    if decoded.len() as u64 > cap {
        return Err(IngestError::TooLarge(format!(
            "decompressed body exceeds {} bytes; send smaller batches",
            limits.max_decoded_bytes
        )));
    }
    let de = &mut serde_json::Deserializer::from_slice(&decoded);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        IngestError::BadRequest {
            message: format!(
                "invalid heartbeat JSON at line {} column {}: {inner}",
                inner.line(),
                inner.column()
            ),
            field: (path != ".").then_some(path),
        }
    })
}

impl Ingest {
    /// Appends validated series, recording what was set aside, samples
    /// refused by storage (a second value at a stored timestamp) and
    /// storage latency. Counts reach `/metrics` only once the write held.
    async fn store_series(
        &self,
        series: &[dozor_common::SeriesBatch],
        checked: &mut Checked,
        now_ms: i64,
    ) -> Result<crate::storage::AppendOutcome, IngestError> {
        let started = Instant::now();
        let appended = self.store.append(series, now_ms).await;
        self.telemetry
            .storage_op("append", started.elapsed(), appended.is_ok());
        let outcome = appended?;
        checked.samples(
            "duplicate_timestamp",
            outcome.conflicts,
            format!(
                "{} sample(s) at a timestamp already stored with another value; the first value stands",
                outcome.conflicts
            ),
        );
        for (reason, n) in &checked.series_reasons {
            self.telemetry.series_rejected(reason, *n);
        }
        for (reason, n) in &checked.sample_reasons {
            self.telemetry.samples_dropped(reason, *n);
        }
        if !checked.rejected.is_empty() {
            tracing::warn!(
                series = checked.rejected.series,
                samples = checked.rejected.samples,
                first = %checked.rejected.examples.first().map(String::as_str).unwrap_or(""),
                "part of a write was refused; the rest was stored"
            );
        }
        self.telemetry.batch_ok(outcome.stored, outcome.duplicate);
        Ok(outcome)
    }
}

#[derive(Clone)]
pub struct Ingest {
    pub store: Store,
    pub telemetry: Arc<Telemetry>,
    pub retention_ms: i64,
    pub limits: Limits,
    pub series_limiter: Arc<cardinality::SeriesLimiter>,
    pub tasks: crate::tasks::Hub,
    /// Per agent: the capabilities and applied state last stored, so a
    /// heartbeat that repeats them writes nothing.
    pub seen: Arc<std::sync::Mutex<AgentsSeen>>,
    /// The operations, once made (they are made after ingest): reports
    /// that act (protection) go through them.
    pub ops: Arc<std::sync::OnceLock<crate::ops::Ops>>,
}

pub type AgentsSeen = std::collections::HashMap<
    i64,
    (
        Option<dozor_common::protocol::Capabilities>,
        Option<dozor_common::desired::Applied>,
    ),
>;

impl Ingest {
    #[instrument(skip_all, fields(agent = %agent.name, series = req.series.len()))]
    pub async fn heartbeat(
        &self,
        agent: &AgentRecord,
        mut req: HeartbeatRequest,
        now_ms: i64,
    ) -> Result<HeartbeatResponse, IngestError> {
        if let Some(sent) = req.sent_ms {
            // Saturating: any i64 is a valid JSON clock, and an absurd one
            // must read as absurd skew, not overflow.
            let offset_ms = sent.saturating_sub(now_ms);
            self.telemetry
                .clock_offset(&agent.name, offset_ms as f64 / 1000.0);
        }
        let mut checked = prepare(
            Some(&agent.name),
            &mut req,
            now_ms,
            self.retention_ms,
            &self.limits,
        )?;
        if let Err(over) = self.series_limiter.admit(
            agent.id,
            &req.series,
            self.limits.max_series_per_agent,
            now_ms,
        ) {
            return Err(IngestError::TooManySeries(format!(
                "agent {:?} has {} active series and this batch adds {}; the limit is {} (--max-series-per-agent)",
                agent.name, over.active, over.new, over.limit
            )));
        }
        let outcome = self.store_series(&req.series, &mut checked, now_ms).await?;
        let inventory = req
            .inventory
            .as_ref()
            .map(|i| serde_json::to_value(i).expect("inventory serialises"));
        self.store
            .touch_agent(agent.id, now_ms, inventory.as_ref())
            .await?;
        if let Some(targets) = &req.scrape_targets {
            let json = serde_json::to_string(targets).expect("statuses serialise");
            self.store
                .save_scrape_status(agent.id, &json, now_ms)
                .await?;
        }
        if !req.metadata.is_empty() {
            let entries = req
                .metadata
                .iter()
                .filter(|m| dozor_common::model::validate_metric_name(&m.metric).is_ok())
                .map(|m| crate::storage::MetadataEntry {
                    metric: m.metric.clone(),
                    kind: m.kind.clone(),
                    help: m.help.replace('\0', ""),
                    unit: m.unit.replace('\0', ""),
                })
                .collect();
            self.save_metadata(entries, now_ms).await?;
        }
        if let Some(list) = &req.containers {
            self.store.save_containers(agent.id, list, now_ms).await?;
        }
        if !req.container_events.is_empty() {
            self.store
                .add_container_events(agent.id, &req.container_events)
                .await?;
        }
        for r in &req.task_results {
            if !self.tasks.finish(&self.store, agent.id, r).await? {
                tracing::warn!(
                    task_id = r.task_id,
                    "result for an unknown or finished task ignored"
                );
            }
        }
        if let (Some(c), Some(ops)) = (&req.certificates, self.ops.get()) {
            if let Err(e) = crate::ops::certificates::report(ops, &agent.name, c).await {
                return Err(match e {
                    crate::ops::OpError::Storage(e) => e.into(),
                    other => IngestError::Internal(other.to_string()),
                });
            }
        }
        if let (Some(waf), Some(ops)) = (&req.waf, self.ops.get()) {
            if let Err(e) = crate::ops::protection::report(ops, &agent.name, waf).await {
                return Err(match e {
                    crate::ops::OpError::Storage(e) => e.into(),
                    other => IngestError::Internal(other.to_string()),
                });
            }
        }
        let tasks = self
            .store
            .take_tasks(agent.id, now_ms, self.limits.max_tasks_per_heartbeat)
            .await?
            .into_iter()
            .map(crate::tasks::wire)
            .collect();
        let protocol = req.capabilities.as_ref().map_or(1, |c| c.protocol);
        self.remember(agent.id, &req, now_ms).await?;
        let generation = match self.store.desired_status(agent.id).await? {
            Some(s) => s.generation,
            // A host without a document yet (enrolled before protocol 2).
            None => crate::desired::publish(&self.store, agent, now_ms).await?,
        };
        // Agents before protocol 2 read their targets from the answer.
        let scrape_targets = if protocol < 2 {
            Some(crate::desired::scrape_targets::targets(&self.store, &agent.name).await?)
        } else {
            None
        };
        Ok(HeartbeatResponse {
            stored_samples: outcome.stored,
            dropped_samples: checked.too_old(),
            rejected: checked.rejected,
            tasks,
            scrape_targets,
            desired_generation: Some(generation),
        })
    }

    /// Stores what the agent announced and what it applied, when either
    /// changed since its last heartbeat (most heartbeats repeat them).
    async fn remember(
        &self,
        agent_id: i64,
        req: &HeartbeatRequest,
        now_ms: i64,
    ) -> Result<(), IngestError> {
        let (caps_new, applied_new) = {
            let seen = self.seen.lock().expect("seen lock");
            let last = seen.get(&agent_id);
            (
                req.capabilities
                    .as_ref()
                    .filter(|c| last.is_none_or(|l| l.0.as_ref() != Some(*c))),
                req.desired_applied
                    .as_ref()
                    .filter(|a| last.is_none_or(|l| l.1.as_ref() != Some(*a))),
            )
        };
        if let Some(c) = caps_new {
            self.store.record_capabilities(agent_id, c).await?;
        }
        if let Some(a) = applied_new {
            self.store.record_applied(agent_id, a, now_ms).await?;
        }
        if caps_new.is_some() || applied_new.is_some() {
            let mut seen = self.seen.lock().expect("seen lock");
            let e = seen.entry(agent_id).or_default();
            if let Some(c) = caps_new {
                e.0 = Some(c.clone());
            }
            if let Some(a) = applied_new {
                e.1 = Some(a.clone());
            }
        }
        Ok(())
    }

    /// Stores a remote_write request: labels as sent (no agent, so no
    /// `host` stamping), otherwise the heartbeat's validation and commit.
    /// Returns what was stored and what was refused.
    #[instrument(skip_all, fields(series = series.len()))]
    pub async fn remote_write(
        &self,
        series: Vec<dozor_common::SeriesBatch>,
        now_ms: i64,
    ) -> Result<(u64, dozor_common::protocol::Rejected), IngestError> {
        let mut req = HeartbeatRequest {
            series,
            ..Default::default()
        };
        let mut checked = prepare(None, &mut req, now_ms, self.retention_ms, &self.limits)?;
        let outcome = self.store_series(&req.series, &mut checked, now_ms).await?;
        Ok((outcome.stored, checked.rejected))
    }

    /// Keeps senders' metric metadata (type, help, unit) for the metadata
    /// API; at most `MAX_METADATA` entries a request are read.
    pub async fn save_metadata(
        &self,
        mut entries: Vec<crate::storage::MetadataEntry>,
        now_ms: i64,
    ) -> Result<(), IngestError> {
        const MAX_METADATA: usize = 10_000;
        entries.truncate(MAX_METADATA);
        if entries.is_empty() {
            return Ok(());
        }
        self.store.save_metadata(&entries, now_ms).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
