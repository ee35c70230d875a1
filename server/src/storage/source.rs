//! The query engine's view of storage: [`promql::Source`] over the
//! [`SampleReader`] of whichever backend is open.

use super::{SampleReader, StorageError, Store};
use crate::promql::rollup::{Coverage, Resolution};
use crate::promql::source::SourceResult;
use crate::promql::{Engine, Limits, RollupPoint, SeriesInfo, Source, SourceError};
use async_trait::async_trait;
use dozor_common::{Labels, Sample};
use std::collections::HashMap;
use std::sync::Arc;

impl From<StorageError> for SourceError {
    fn from(e: StorageError) -> Self {
        SourceError {
            unavailable: e.is_unavailable(),
            message: e.to_string(),
        }
    }
}

struct StoreSource(Store);

#[async_trait]
impl Source for StoreSource {
    async fn find_series(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
    ) -> SourceResult<Vec<SeriesInfo>> {
        Ok(self.0.find_series(metric, equal, limit).await?)
    }

    async fn select(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
        start_ms: i64,
        end_ms: i64,
    ) -> SourceResult<(Vec<SeriesInfo>, HashMap<i64, Vec<Sample>>)> {
        Ok(self
            .0
            .select(metric, equal, limit, start_ms, end_ms)
            .await?)
    }

    async fn samples_many(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> SourceResult<HashMap<i64, Vec<Sample>>> {
        Ok(self.0.samples_many(ids, start_ms, end_ms).await?)
    }

    async fn rollups_many(
        &self,
        ids: &[i64],
        res: Resolution,
        start_ms: i64,
        end_ms: i64,
    ) -> SourceResult<HashMap<i64, Vec<RollupPoint>>> {
        Ok(self.0.rollups_many(ids, res, start_ms, end_ms).await?)
    }

    async fn rollup_coverage(&self) -> SourceResult<Coverage> {
        Ok(SampleReader::rollup_coverage(self.0.as_ref()).await?)
    }

    async fn series_with_samples(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> SourceResult<std::collections::HashSet<i64>> {
        Ok(SampleReader::series_with_samples(self.0.as_ref(), ids, start_ms, end_ms).await?)
    }
}

/// The PromQL engine over `store`: what dashboards, rules and the
/// Prometheus API all query through.
pub fn engine(store: &Store, limits: Limits) -> Engine {
    Engine::new(Arc::new(StoreSource(store.clone())), limits)
}
