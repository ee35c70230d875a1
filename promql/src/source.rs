//! Where the engine reads from. The engine does no I/O of its own: the
//! server implements [`Source`] over its storage, and tests and the fuzz
//! target implement it over memory.

use crate::rollup::{Coverage, Resolution};
use async_trait::async_trait;
use dozor_common::{Labels, Sample};
use serde::Serialize;
use std::collections::HashMap;

/// A stored series: its id, metric name and labels (without `__name__`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesInfo {
    pub id: i64,
    pub metric: String,
    pub labels: Labels,
}

/// One rollup bucket: aggregates of the raw samples in the bucket (see
/// [`crate::rollup`] for the left-open bucket rule).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RollupPoint {
    pub bucket_ms: i64,
    /// Over the bucket's numbers (NaN samples aside); meaningless when
    /// `count` is 0.
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    /// Samples that are numbers.
    pub count: i64,
    /// Samples whose value is NaN (staleness markers are not samples).
    pub nan: i64,
    /// The value of the latest sample in the bucket, NaN included.
    pub last: f64,
}

/// A failure of the source, classified so an API can answer 503 (retry)
/// for an unreachable database and 500 otherwise.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub message: String,
    pub unavailable: bool,
}

pub type SourceResult<T> = std::result::Result<T, SourceError>;

#[async_trait]
pub trait Source: Send + Sync {
    /// Series with this metric name (when given) whose labels include all
    /// of `equal` (exact matches), at most `limit`.
    async fn find_series(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
    ) -> SourceResult<Vec<SeriesInfo>>;
    /// [`Self::find_series`] and the raw samples of what it finds, for a
    /// selector with nothing to filter between the two (its matchers are
    /// all equalities): a store can answer both in one round trip. No
    /// samples are read when `limit` series are found (the caller refuses
    /// that many).
    async fn select(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
        start_ms: i64,
        end_ms: i64,
    ) -> SourceResult<(Vec<SeriesInfo>, HashMap<i64, Vec<Sample>>)> {
        let series = self.find_series(metric, equal, limit).await?;
        if series.len() >= limit {
            return Ok((series, HashMap::new()));
        }
        let ids: Vec<i64> = series.iter().map(|s| s.id).collect();
        let samples = self.samples_many(&ids, start_ms, end_ms).await?;
        Ok((series, samples))
    }
    /// Raw samples with `start_ms <= ts <= end_ms` of many series, keyed by
    /// series id, oldest first; series without samples there are absent.
    async fn samples_many(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> SourceResult<HashMap<i64, Vec<Sample>>>;
    /// Rollup buckets whose start lies in `[start_ms, end_ms]`, keyed by
    /// series id, oldest first.
    async fn rollups_many(
        &self,
        ids: &[i64],
        res: Resolution,
        start_ms: i64,
        end_ms: i64,
    ) -> SourceResult<HashMap<i64, Vec<RollupPoint>>>;
    /// Which rollup buckets hold final values.
    async fn rollup_coverage(&self) -> SourceResult<Coverage>;
    /// Which of `ids` have a sample with `start_ms <= ts <= end_ms`. A store
    /// answers with an index probe per series; this default loads them.
    async fn series_with_samples(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> SourceResult<std::collections::HashSet<i64>> {
        Ok(self
            .samples_many(ids, start_ms, end_ms)
            .await?
            .into_keys()
            .collect())
    }
}
