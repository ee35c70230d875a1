//! Warnings and infos about a query's answer, as Prometheus returns them
//! beside the data (`warnings`, `infos`) and Grafana shows them: the answer
//! stands, but something about the input is probably not what the user
//! meant (a rate over a gauge, a quantile out of range, histogram buckets
//! that had to be fixed).

use std::collections::BTreeSet;

#[derive(Debug, Default, Clone)]
pub struct Annotations {
    pub warnings: BTreeSet<String>,
    pub infos: BTreeSet<String>,
    /// Metric names already noted as possible non-counters: a range query
    /// asks once per series and step, and formatting the note each time
    /// cost more than the rate itself.
    non_counters: BTreeSet<String>,
}

impl PartialEq for Annotations {
    fn eq(&self, other: &Self) -> bool {
        self.warnings == other.warnings && self.infos == other.infos
    }
}

impl Eq for Annotations {}

impl Annotations {
    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }

    pub fn warn(&mut self, message: String) {
        self.warnings.insert(format!("PromQL warning: {message}"));
    }

    pub fn info(&mut self, message: String) {
        self.infos.insert(format!("PromQL info: {message}"));
    }

    /// `rate`, `increase` and `irate` over a series whose name does not
    /// say it is a counter.
    pub fn possible_non_counter(&mut self, name: &str) {
        const SUFFIXES: [&str; 4] = ["_total", "_sum", "_count", "_bucket"];
        if !name.is_empty()
            && !SUFFIXES.iter().any(|s| name.ends_with(s))
            && !self.non_counters.contains(name)
        {
            self.non_counters.insert(name.to_string());
            self.info(format!(
                "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
            ));
        }
    }

    pub fn quantile_out_of_range(&mut self, q: f64) {
        if !(0.0..=1.0).contains(&q) {
            self.warn(format!(
                "quantile value should be between 0 and 1, got {}",
                super::value::format_float(q)
            ));
        }
    }
}
