//! Staleness markers for series that disappear between two passes of one
//! source (a scrape target, the host pass, the Docker pass), as Prometheus
//! writes them: without one, a gone container or interface would keep
//! answering for the whole 5-minute lookback.

use dozor_common::{Labels, Sample, SeriesBatch};
use std::collections::HashSet;

#[derive(Default)]
pub struct Staleness {
    /// Every series the previous pass of this source sent.
    last: HashSet<(String, Labels)>,
}

impl Staleness {
    /// Remembers this pass's series and appends, stamped `ts_ms`, a marker
    /// for each series of the previous pass that is not among them. A
    /// source that could not be read at all should not call this: a hiccup
    /// is not every series gone.
    pub fn mark(&mut self, series: &mut Vec<SeriesBatch>, ts_ms: i64) {
        let now: HashSet<(String, Labels)> = series
            .iter()
            .filter(|s| !s.samples.is_empty())
            .map(|s| (s.name.clone(), s.labels.clone()))
            .collect();
        for (name, labels) in self.last.difference(&now) {
            series.push(SeriesBatch::new(
                name.clone(),
                labels.clone(),
                vec![Sample::new(ts_ms, dozor_common::model::stale_nan())],
            ));
        }
        self.last = now;
    }

    /// Markers for every series of the last pass (the source is gone).
    pub fn retire(&mut self, ts_ms: i64) -> Vec<SeriesBatch> {
        let mut out = Vec::new();
        self.mark(&mut out, ts_ms);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dozor_common::model::is_stale;

    fn batch(name: &str, iface: &str) -> SeriesBatch {
        let labels: Labels = [("device".to_string(), iface.to_string())].into();
        SeriesBatch::new(name, labels, vec![Sample::new(1, 1.0)])
    }

    #[test]
    fn a_series_gone_from_a_pass_gets_one_marker() {
        let mut s = Staleness::default();
        let mut first = vec![batch("up", "eth0"), batch("up", "veth1")];
        s.mark(&mut first, 1_000);
        assert_eq!(first.len(), 2, "nothing to mark on the first pass");
        let mut second = vec![batch("up", "eth0")];
        s.mark(&mut second, 2_000);
        assert_eq!(second.len(), 2);
        let marker = &second[1];
        assert_eq!(marker.labels["device"], "veth1");
        assert_eq!(marker.samples[0].ts_ms, 2_000);
        assert!(is_stale(marker.samples[0].value));
        let mut third = vec![batch("up", "eth0")];
        s.mark(&mut third, 3_000);
        assert_eq!(third.len(), 1, "marked once, not every pass after");
        let gone = s.retire(4_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].labels["device"], "eth0");
    }
}
