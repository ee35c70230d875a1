//! Storage: a small set of traits with one module per backend.
//!
//! Writing ([`SampleWriter`]) is kept apart from reading ([`SampleReader`]),
//! as Prometheus splits Appender and Querier. Agents, enrolment tokens and
//! tasks live in the [`Catalog`]. Housekeeping (partitions, rollups,
//! retention) is [`Maintenance`]. Each backend owns its migrations.
//!
//! Invariant: only this module and its children import sqlx.

pub mod accounts;
pub mod alerts;
pub mod api_tokens;
pub mod autoscale;
mod cache;
mod catalog;
pub mod certificates;
pub mod checks;
pub mod chunk;
pub mod compaction;
pub mod containers;
pub mod desired;
mod error;
pub mod invites;
pub mod postgres;
/// The rollup scheme: bucket arithmetic the planner and the backends share.
pub use dozor_promql::rollup;
pub mod metadata;
pub mod protection;
pub mod scrape_status;
pub mod server_targets;
pub mod services;
pub mod silences;
mod source;
pub mod sql;
pub mod sqlite;
pub mod telegram;
mod types;
pub mod ui_rules;

pub use accounts::Accounts;
pub use alerts::{AlertRow, Alerts, HistoryRow, OutboxItem, OutboxRow, RuleUpdate};
pub use api_tokens::{ApiTokenRecord, ApiTokens, Scope};
pub use autoscale::{AutoscaleStore, ScaleEvent};
pub use cache::SeriesCache;
pub use certificates::{CertRecord, CertStore};
pub use checks::CheckStore;
pub use containers::{ContainerRow, Containers, EventRow};
pub use desired::{DesiredStates, DesiredStatus};
pub use error::StorageError;
pub use invites::{Accepted, InviteRecord, Invites};
pub use metadata::{Metadata, MetadataEntry};
pub use protection::{ActivityRow, BlockRecord, NewBlock, ProtectionStore};
pub use scrape_status::ScrapeStatuses;
pub use server_targets::{ServerTarget, ServerTargets};
pub use services::{ErrorPage, Saved, ServiceRecord, ServiceStore};
pub use silences::{SilenceRow, Silences};
pub use source::engine;
pub use telegram::{ChatLink, TelegramLinks};
pub use types::*;
pub use ui_rules::{BuiltinOverride, UiRuleRow, UiRules};

use async_trait::async_trait;
use dozor_common::{Labels, Sample, SeriesBatch};
use std::sync::Arc;

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[async_trait]
pub trait SampleWriter: Send + Sync {
    /// Stores validated series (the `host` label already stamped). Samples
    /// already present at the same (series, ts) are skipped, so a re-sent
    /// batch stores nothing twice. Returns when the data is committed.
    async fn append(&self, batch: &[SeriesBatch], now_ms: i64) -> Result<AppendOutcome>;
}

#[async_trait]
pub trait SampleReader: Send + Sync {
    /// Series with this metric name (when given) whose labels include all
    /// of `equal` (exact matches), at most `limit`.
    async fn find_series(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
    ) -> Result<Vec<SeriesInfo>>;
    async fn series_by_id(&self, id: i64) -> Result<Option<SeriesInfo>>;
    /// `find_series` and the raw samples of what it finds, for a selector
    /// whose matchers are all equalities; nothing is read when `limit`
    /// series are found. PostgreSQL answers in one round trip.
    async fn select(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(Vec<SeriesInfo>, std::collections::HashMap<i64, Vec<Sample>>)> {
        let series = self.find_series(metric, equal, limit).await?;
        if series.len() >= limit {
            return Ok((series, Default::default()));
        }
        let ids: Vec<i64> = series.iter().map(|s| s.id).collect();
        let samples = self.samples_many(&ids, start_ms, end_ms).await?;
        Ok((series, samples))
    }
    /// Raw samples with `start_ms <= ts <= end_ms`, oldest first.
    async fn samples(&self, series_id: i64, start_ms: i64, end_ms: i64) -> Result<Vec<Sample>> {
        let mut many = self.samples_many(&[series_id], start_ms, end_ms).await?;
        Ok(many.remove(&series_id).unwrap_or_default())
    }
    /// Raw samples of many series at once, keyed by series id; series
    /// without samples in the range are absent.
    async fn samples_many(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<std::collections::HashMap<i64, Vec<Sample>>>;
    /// Rollup buckets whose start lies in `[start_ms, end_ms]`.
    async fn rollups(
        &self,
        series_id: i64,
        res: rollup::Resolution,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<RollupPoint>> {
        let mut many = self
            .rollups_many(&[series_id], res, start_ms, end_ms)
            .await?;
        Ok(many.remove(&series_id).unwrap_or_default())
    }
    /// Rollup buckets of many series, keyed by series id, oldest first.
    async fn rollups_many(
        &self,
        ids: &[i64],
        res: rollup::Resolution,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<std::collections::HashMap<i64, Vec<RollupPoint>>>;
    /// Which rollup buckets hold final values, for queries that read them.
    async fn rollup_coverage(&self) -> Result<rollup::Coverage>;
    /// Which of `ids` have a sample (or staleness marker) with
    /// `start_ms <= ts <= end_ms`: one index probe per series, so the
    /// series and label APIs can honour a time range.
    async fn series_with_samples(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<std::collections::HashSet<i64>>;
    async fn series_count(&self) -> Result<i64>;
}

#[async_trait]
pub trait Catalog: Send + Sync {
    /// An enrolment token without expiry or use limit.
    async fn create_enroll_token(&self, token_hash: &str, now_ms: i64) -> Result<i64> {
        self.create_enroll_token_limited(token_hash, now_ms, None, None)
            .await
    }
    async fn create_enroll_token_limited(
        &self,
        token_hash: &str,
        now_ms: i64,
        expires_ms: Option<i64>,
        max_uses: Option<i64>,
    ) -> Result<i64>;
    /// True when the hash belongs to a token that is not revoked, not
    /// expired at `now_ms` and not used up.
    async fn enroll_token_valid(&self, token_hash: &str, now_ms: i64) -> Result<bool>;
    /// Like `enroll_token_valid`, and counts one use, atomically.
    async fn consume_enroll_token(&self, token_hash: &str, now_ms: i64) -> Result<bool>;
    /// Revokes every enrolment token; returns how many were live.
    async fn revoke_enroll_tokens(&self, now_ms: i64) -> Result<u64>;

    /// Creates an agent, or re-keys a revoked one with the same name.
    async fn create_agent(&self, new: &NewAgent, now_ms: i64) -> Result<CreateAgent>;
    async fn agent_by_key_hash(&self, key_hash: &str) -> Result<Option<AgentRecord>>;
    async fn agent_by_name(&self, name: &str) -> Result<Option<AgentRecord>>;
    async fn list_agents(&self) -> Result<Vec<AgentRecord>>;
    async fn revoke_agent(&self, name: &str, now_ms: i64) -> Result<bool>;
    /// Records a heartbeat; `inventory` is stored when present.
    async fn touch_agent(
        &self,
        agent_id: i64,
        now_ms: i64,
        inventory: Option<&serde_json::Value>,
    ) -> Result<()>;

    async fn enqueue_task(&self, task: &NewTask, now_ms: i64) -> Result<i64>;
    /// Tasks not yet delivered, oldest first, marked delivered. Delivery is
    /// at-least-once: a delivered task without a result is delivered again
    /// after [`REDELIVER_AFTER_MS`] (not at once: it may still be running).
    /// Tasks older than [`TASK_MAX_AGE_MS`] are left undelivered.
    async fn take_tasks(&self, agent_id: i64, now_ms: i64, limit: usize)
        -> Result<Vec<TaskRecord>>;
    /// Stores a result; ignored unless the task belongs to `agent_id`.
    async fn finish_task(
        &self,
        agent_id: i64,
        result: &dozor_common::protocol::TaskResult,
        now_ms: i64,
    ) -> Result<bool>;
    async fn task(&self, id: i64) -> Result<Option<TaskRecord>>;
    /// Empties a task's payload (an uploaded key is not kept once its
    /// task has ended).
    async fn scrub_task(&self, id: i64) -> Result<()>;
}

#[async_trait]
pub trait Maintenance: Send + Sync {
    async fn ping(&self) -> Result<()>;
    /// Creates what ingest will need soon (daily partitions).
    async fn prepare(&self, now_ms: i64) -> Result<()>;
    /// Brings server-maintained rollups up to date. Returns buckets written.
    async fn refresh_rollups(&self, now_ms: i64) -> Result<u64>;
    /// Moves the rows of closed windows into compressed chunks (see
    /// `storage::compaction`), a bounded amount per call; returns the
    /// series windows compacted. Stores that keep rows do nothing.
    async fn compact(&self, _now_ms: i64) -> Result<u64> {
        Ok(0)
    }
    /// Files what ingests have acknowledged but not yet filed into the
    /// store's tables (SQLite's ingest log, see `storage::sqlite`), all of
    /// it logged before the call. Stores that file at ingest do nothing.
    async fn flush(&self) -> Result<()> {
        Ok(())
    }
    /// Deletes data older than `now - retention`.
    async fn apply_retention(&self, now_ms: i64, retention_ms: i64) -> Result<RetentionOutcome>;
    /// Deletes series rows left without samples or rollups that were
    /// created before `before_ms` (retention emptied them: churned
    /// containers, remote_write series gone quiet), and forgets them in the
    /// series cache first, so an ingest never writes to a deleted id.
    /// Returns how many were deleted.
    async fn prune_series(&self, before_ms: i64) -> Result<u64>;
    /// Makes `retention_ms` the store's retention: rollup passes skip older
    /// data, and with TimescaleDB its retention policies are replaced.
    /// Only the serving process calls this, with its `--retention`: admin
    /// commands open the same store and must not change it.
    async fn set_retention(&self, retention_ms: i64) -> Result<()>;
    /// The database's own background jobs and how their runs went (the
    /// TimescaleDB layout's policies); none elsewhere. dozor's results never
    /// depend on them, but an operator should know when they fail.
    async fn background_jobs(&self) -> Result<Vec<BackgroundJob>> {
        Ok(Vec::new())
    }
}

/// A database background job as `background_jobs` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundJob {
    pub id: i64,
    /// What it does, e.g. `policy_retention`.
    pub kind: String,
    /// The table it works on.
    pub table: String,
    pub failures: i64,
    /// Its last run failed.
    pub last_failed: bool,
}

pub trait Storage:
    SampleWriter
    + SampleReader
    + Catalog
    + Maintenance
    + Accounts
    + ApiTokens
    + Invites
    + Alerts
    + Silences
    + TelegramLinks
    + UiRules
    + ScrapeStatuses
    + Metadata
    + ServerTargets
    + ServiceStore
    + ProtectionStore
    + CheckStore
    + CertStore
    + AutoscaleStore
    + Containers
    + DesiredStates
{
    /// For logs and `/readyz`: "sqlite /path" or "postgresql host/db (timescaledb)".
    fn describe(&self) -> String;
    fn cache(&self) -> &SeriesCache;
}

pub type Store = Arc<dyn Storage>;

/// A delivered task with no result goes out again after this long.
pub const REDELIVER_AFTER_MS: i64 = 30_000;
/// A task not taken by its agent within this long is never delivered: a
/// stop asked for minutes ago is not what the user wants now. Decided on
/// the server's clock, so an agent's clock does not matter.
pub const TASK_MAX_AGE_MS: i64 = 60_000;

/// Opens the store for `url`: `postgres://`/`postgresql://` select
/// PostgreSQL, `sqlite://PATH` or a plain path selects SQLite.
pub async fn open(url: &str, opts: &OpenOptions) -> Result<Store> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url, opts).await?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        Ok(Arc::new(
            sqlite::SqliteStore::open(path.as_ref(), opts).await?,
        ))
    }
}
