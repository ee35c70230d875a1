//! What an agent reports beside samples, and when: each report is a
//! server write, too many to make with every heartbeat, so each goes when
//! it changed and otherwise now and then.

use dozor_common::protocol::{MetricMetadata, TargetStatus};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Scrape statuses go to the server when a target's identity, state or
/// error changes, and otherwise every 30 s for the timings: each report is
/// a server write, too many to make with every heartbeat.
#[derive(Default)]
pub struct Reported {
    key: Vec<(String, String, bool, Option<String>)>,
    at: Option<Instant>,
}

const REPORT_EVERY: Duration = Duration::from_secs(30);

impl Reported {
    fn key(s: &[TargetStatus]) -> Vec<(String, String, bool, Option<String>)> {
        s.iter()
            .map(|t| (t.job.clone(), t.url.clone(), t.up, t.error.clone()))
            .collect()
    }

    pub fn due(&self, s: &[TargetStatus]) -> bool {
        match self.at {
            None => !s.is_empty(),
            Some(at) => Self::key(s) != self.key || at.elapsed() >= REPORT_EVERY,
        }
    }

    pub fn sent(&mut self, s: &[TargetStatus]) {
        self.key = Self::key(s);
        self.at = Some(Instant::now());
    }
}

/// Metric families' type, help and unit as scrapes read them: sent when
/// one changes, and every 10 minutes so a server that lost them (a new
/// database) gets them back.
#[derive(Default)]
pub struct MetadataBook {
    all: BTreeMap<String, MetricMetadata>,
    /// Bumped by every change; `sent` names the version a heartbeat
    /// carried, so a change recorded while that heartbeat was in flight
    /// is still due (a flag cleared on the answer lost it for 10 min).
    version: u64,
    sent_version: u64,
    at: Option<Instant>,
}

const METADATA_EVERY: Duration = Duration::from_secs(600);
/// Families kept at most; a target exposing more gets the first ones.
const MAX_FAMILIES: usize = 20_000;

impl MetadataBook {
    pub fn record(&mut self, entries: Vec<MetricMetadata>) {
        for e in entries {
            if self.all.get(&e.metric) == Some(&e) {
                continue;
            }
            if self.all.len() >= MAX_FAMILIES && !self.all.contains_key(&e.metric) {
                continue;
            }
            self.all.insert(e.metric.clone(), e);
            self.version += 1;
        }
    }

    /// The type and help of the host families not held yet (a textfile's
    /// own words, else node_exporter's), so the server's metadata API
    /// describes them as it does scraped ones.
    pub fn record_host(&mut self, out: &crate::output::Output) {
        let mut new: Vec<MetricMetadata> = Vec::new();
        for s in out.series() {
            let Some(d) = out.description(&s.name) else {
                continue;
            };
            if self.all.contains_key(&d.family) || new.iter().any(|m| m.metric == d.family) {
                continue;
            }
            new.push(MetricMetadata {
                metric: d.family.clone(),
                kind: d.kind.prometheus_name().into(),
                help: d.help.clone(),
                unit: String::new(),
            });
        }
        self.record(new);
    }

    /// Everything, when a report is due, with the version it is.
    pub fn due(&self) -> (Vec<MetricMetadata>, u64) {
        let due = self.version != self.sent_version
            || self.at.is_none_or(|a| a.elapsed() >= METADATA_EVERY);
        if due {
            (self.all.values().cloned().collect(), self.version)
        } else {
            (Vec::new(), self.version)
        }
    }

    /// The server has `version`; later changes stay due.
    pub fn sent(&mut self, version: u64) {
        self.sent_version = version;
        self.at = Some(Instant::now());
    }
}

/// What the agent's scrapes give its heartbeats to report.
impl crate::agent::Agent {
    /// Reports these scrape targets' statuses in every heartbeat.
    pub fn report_scrapes(&self, statuses: crate::scrape::Statuses) {
        let _ = self.scrapes.set(statuses);
    }

    pub(crate) fn scrape_snapshot(&self) -> Option<Vec<dozor_common::protocol::TargetStatus>> {
        let all = self.scrapes.get()?.lock().expect("statuses lock");
        Some(
            all.values()
                .map(|s| s.lock().expect("status lock").clone())
                .collect(),
        )
    }

    /// Remembers what a scrape read about its families, for the server.
    pub fn note_metadata(&self, entries: Vec<MetricMetadata>) {
        self.metadata.lock().expect("metadata lock").record(entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, help: &str) -> MetricMetadata {
        MetricMetadata {
            metric: name.into(),
            kind: "counter".into(),
            help: help.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn metadata_goes_when_it_changes() {
        let mut b = MetadataBook::default();
        assert!(b.due().0.is_empty(), "nothing known");
        b.record(vec![meta("a_total", "A.")]);
        let (due, v) = b.due();
        assert_eq!(due.len(), 1);
        b.sent(v);
        assert!(b.due().0.is_empty(), "sent, unchanged");
        b.record(vec![meta("a_total", "A.")]);
        assert!(b.due().0.is_empty(), "the same again");
        b.record(vec![meta("a_total", "A, reworded.")]);
        assert_eq!(b.due().0[0].help, "A, reworded.");
    }

    #[test]
    fn a_change_while_a_heartbeat_is_in_flight_is_still_due() {
        let mut b = MetadataBook::default();
        b.record(vec![meta("a_total", "A.")]);
        let (_, v) = b.due();
        // A scrape records a new family before the server answers.
        b.record(vec![meta("b_total", "B.")]);
        b.sent(v);
        let (due, _) = b.due();
        assert_eq!(due.len(), 2, "b_total was not in the heartbeat: {due:?}");
    }
}
