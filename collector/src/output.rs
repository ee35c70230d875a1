//! Accumulates the samples of one collection pass, all at one timestamp,
//! and what a source said of their families.

use dozor_common::expo::MetricType;
use dozor_common::{Labels, Sample, SeriesBatch};
use std::borrow::Cow;
use std::collections::HashMap;

pub struct Output {
    ts_ms: i64,
    series: Vec<SeriesBatch>,
    /// sample name → (family, type, help), where the source gave them
    /// (textfiles); other host samples are described by the catalogue.
    described: HashMap<String, Description>,
}

/// A family as `/metrics` and the metadata API present it.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    pub family: String,
    pub kind: MetricType,
    pub help: String,
}

impl Output {
    pub fn new(ts_ms: i64) -> Self {
        Self {
            ts_ms,
            series: Vec::new(),
            described: HashMap::new(),
        }
    }

    /// Records the family, type and help the source gave `sample`.
    pub fn describe(&mut self, sample: &str, d: Description) {
        if !self.described.contains_key(sample) {
            self.described.insert(sample.to_string(), d);
        }
    }

    /// The family `sample` belongs to, with its type and help: the
    /// source's words, else node_exporter's (the catalogue); None for a
    /// name neither knows.
    pub fn description(&self, sample: &str) -> Option<Cow<'_, Description>> {
        if let Some(d) = self.described.get(sample) {
            return Some(Cow::Borrowed(d));
        }
        let (kind, help) = crate::proc::catalogue::describe(sample)?;
        Some(Cow::Owned(Description {
            family: sample.to_string(),
            kind,
            help: help.into_owned(),
        }))
    }

    pub fn ts_ms(&self) -> i64 {
        self.ts_ms
    }

    pub fn push(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.series.push(SeriesBatch::new(
            name,
            labels,
            vec![Sample::new(self.ts_ms, value)],
        ));
    }

    /// A counter met for the first time at `value` that began at 0 at
    /// `start_ms` (before this pass): both points, as Prometheus writes a
    /// created timestamp's zero, so increase() counts what happened before
    /// the first pass.
    pub fn push_from_zero(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        start_ms: i64,
        value: f64,
    ) {
        self.push(name, labels, value);
        if start_ms < self.ts_ms {
            if let Some(s) = self.series.last_mut() {
                s.samples.insert(0, Sample::new(start_ms, 0.0));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    pub fn into_series(self) -> Vec<SeriesBatch> {
        self.series
    }

    /// The value of the one series with this name and labels (tests).
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.series
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.samples[0].value)
    }

    pub fn series(&self) -> &[SeriesBatch] {
        &self.series
    }
}
