//! A [`Source`] held in memory, for tests, benchmarks and the fuzz target:
//! the engine's whole path without a database. It serves no rollups, so
//! every query reads raw samples.

use crate::rollup::{Coverage, Resolution};
use crate::source::{RollupPoint, SeriesInfo, Source, SourceResult};
use async_trait::async_trait;
use dozor_common::{Labels, Sample};
use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct MemorySource {
    series: Vec<(SeriesInfo, Vec<Sample>)>,
}

impl MemorySource {
    /// Adds a series; samples must be oldest first.
    pub fn add(&mut self, metric: &str, labels: Labels, samples: Vec<Sample>) {
        let id = self.series.len() as i64 + 1;
        self.series.push((
            SeriesInfo {
                id,
                metric: metric.to_string(),
                labels,
            },
            samples,
        ));
    }
}

#[async_trait]
impl Source for MemorySource {
    async fn find_series(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
    ) -> SourceResult<Vec<SeriesInfo>> {
        Ok(self
            .series
            .iter()
            .map(|(info, _)| info)
            .filter(|i| metric.is_none_or(|m| i.metric == m))
            .filter(|i| equal.iter().all(|(k, v)| i.labels.get(k) == Some(v)))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn samples_many(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> SourceResult<HashMap<i64, Vec<Sample>>> {
        let mut out = HashMap::new();
        for (info, samples) in &self.series {
            if !ids.contains(&info.id) {
                continue;
            }
            let inside: Vec<Sample> = samples
                .iter()
                .filter(|s| s.ts_ms >= start_ms && s.ts_ms <= end_ms)
                .copied()
                .collect();
            if !inside.is_empty() {
                out.insert(info.id, inside);
            }
        }
        Ok(out)
    }

    async fn rollups_many(
        &self,
        _ids: &[i64],
        _res: Resolution,
        _start_ms: i64,
        _end_ms: i64,
    ) -> SourceResult<HashMap<i64, Vec<RollupPoint>>> {
        Ok(HashMap::new())
    }

    async fn rollup_coverage(&self) -> SourceResult<Coverage> {
        // Nothing is rolled up: queries read raw samples.
        Ok(Coverage {
            watermark_ms: i64::MIN,
            dirty: Vec::new(),
        })
    }
}
