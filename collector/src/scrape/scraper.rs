//! One target's scrapes: fetch, parse (dozor's exposition parser, lenient;
//! or the JSON mapping), label, limit, and Prometheus's per-scrape series
//! (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling`). A series the target stops
//! exposing, or every series of a target that fails, gets a staleness
//! marker, so PromQL stops returning it at once, as in Prometheus.

use super::fetch;
use super::target::{BodyFormat, Target};
use crate::exposition::{self, Families};
use dozor_common::expo::MetricType;
use dozor_common::expo::{Format, Kind, Parser};
use dozor_common::protocol::MetricMetadata;
use dozor_common::{Labels, Sample, SeriesBatch};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The last scrape, reported in heartbeats for the Targets page.
pub type Status = dozor_common::protocol::TargetStatus;

/// The series every scrape adds about itself.
const OWN: [&str; 4] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
];

pub struct Scraper {
    pub target: Target,
    http: reqwest::Client,
    /// The series of the previous scrape, for staleness markers.
    last: crate::staleness::Staleness,
    pub status: Arc<Mutex<Status>>,
    /// The collector's /metrics, when it serves one.
    pub expose: Option<exposition::Shared>,
    /// When the last scrape was stamped: a marker must come after it, or
    /// storage keeps the sample already at that millisecond and drops it.
    last_ms: i64,
    /// Type, help and unit of the families the last scrape read, for the
    /// server's metadata API (taken by whoever sends them).
    pub metadata: Vec<MetricMetadata>,
}

/// What one body yields: samples, how many were scraped before drops, and
/// a note about skipped lines.
struct Parsed {
    series: Vec<SeriesBatch>,
    /// The same samples with their TYPE and HELP, for the collector's /metrics.
    families: Families,
    scraped: usize,
    note: Option<String>,
    metadata: Vec<MetricMetadata>,
}

impl Scraper {
    pub fn new(target: Target, http: reqwest::Client) -> Self {
        let status = Status {
            job: target.job.clone(),
            url: target.url.clone(),
            ..Default::default()
        };
        Self {
            target,
            http,
            last: Default::default(),
            last_ms: i64::MIN,
            metadata: Vec::new(),
            status: Arc::new(Mutex::new(status)),
            expose: None,
        }
    }

    /// The target's labels over the body's: a clash renames the body's
    /// label to `exported_NAME` unless honor_labels; `host` is always
    /// renamed, since the server stamps it from the agent's key.
    fn label(&self, body: impl Iterator<Item = (String, String)>) -> Labels {
        let mut l = Labels::new();
        for (k, v) in body {
            let clash =
                k == "host" || (!self.target.honor_labels && self.target.labels.contains_key(&k));
            let k = if clash { format!("exported_{k}") } else { k };
            l.insert(k, v);
        }
        for (k, v) in &self.target.labels {
            if !(self.target.honor_labels && l.contains_key(k)) {
                l.insert(k.clone(), v.clone());
            }
        }
        l
    }

    fn parse(&self, body: &[u8], content_type: &str, now_ms: i64) -> Result<Parsed, String> {
        let t = &self.target;
        let mut series = Vec::new();
        if t.format == BodyFormat::Json {
            let doc: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
            let samples =
                dozor_common::json_metrics::samples(&doc, &t.json_prefix, &t.json_label_keys);
            if samples.len() > t.sample_limit {
                return Err(format!(
                    "{} samples, over the limit of {}",
                    samples.len(),
                    t.sample_limit
                ));
            }
            let scraped = samples.len();
            let mut families = Families::new();
            let help = format!("Read from JSON at {}.", t.url); // for /metrics
            for s in samples {
                let labels = self.label(s.labels.into_iter());
                let v = s.value;
                if self.expose.is_some() {
                    let l = labels.clone();
                    exposition::add(
                        &mut families,
                        &s.name,
                        MetricType::Gauge,
                        &help,
                        &s.name,
                        l,
                        v,
                    );
                }
                series.push(SeriesBatch::new(
                    s.name,
                    labels,
                    vec![Sample::new(now_ms, v)],
                ));
            }
            return Ok(Parsed {
                series,
                families,
                scraped,
                note: None,
                metadata: Vec::new(),
            });
        }
        let format = Format::from_content_type(content_type);
        let mut p = Parser::from_bytes(body, format).map_err(|e| e.to_string())?;
        let mut scraped = 0;
        let mut families = Families::new();
        let mut kinds: BTreeMap<&str, Kind> = BTreeMap::new();
        while let Some(s) = p.next_sample() {
            let Ok(s) = s else { continue };
            scraped += 1;
            if scraped > t.sample_limit {
                return Err(format!("more than the limit of {} samples", t.sample_limit));
            }
            // Prometheus ignores OpenMetrics' `_created` series by default.
            let created =
                s.name.ends_with("_created") && !matches!(s.kind, Kind::Gauge | Kind::Unknown);
            if created {
                continue;
            }
            let labels = self.label(s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let (name, typed, kind, value, ts) =
                (s.name, s.family, s.kind, s.value, s.timestamp_ms);
            kinds.entry(typed).or_insert(kind);
            // In the text format a counter's TYPE names its sample.
            let family = match kind {
                Kind::Histogram | Kind::Summary => typed,
                _ => name,
            };
            // The TYPE/HELP copy is only for the collector's /metrics.
            if self.expose.is_some() {
                let help = p
                    .help(typed)
                    .map(|h| h.into_owned())
                    .unwrap_or_else(|| format!("Scraped from {}.", t.url));
                let kind = exposition::metric_type(kind);
                let l = labels.clone();
                exposition::add(&mut families, family, kind, &help, name, l, value);
            }
            series.push(SeriesBatch::new(
                name,
                labels,
                vec![Sample::new(ts.unwrap_or(now_ms), value)],
            ));
        }
        let bad = p.skipped() + p.duplicates();
        let note = p
            .first_error()
            .map(|e| format!("{bad} bad or duplicate line(s) skipped; first: {e}"));
        if series.is_empty() && bad > 0 {
            return Err(note.unwrap_or_default());
        }
        let metadata = kinds
            .into_iter()
            .map(|(name, kind)| MetricMetadata {
                metric: name.to_string(),
                kind: kind.as_str().to_string(),
                help: p.help(name).map(|h| h.into_owned()).unwrap_or_default(),
                unit: p.unit(name).unwrap_or_default().to_string(),
            })
            .collect();
        Ok(Parsed {
            series,
            families,
            scraped,
            note,
            metadata,
        })
    }

    /// The target is gone: every series it had, and its own, go stale.
    pub fn retire(&mut self, now_ms: i64) -> Vec<SeriesBatch> {
        let now_ms = now_ms.max(self.last_ms.saturating_add(1));
        let stale = || vec![Sample::new(now_ms, dozor_common::model::stale_nan())];
        let mut out = self.last.retire(now_ms);
        for name in OWN {
            out.push(SeriesBatch::new(name, self.target.labels.clone(), stale()));
        }
        if let Some(x) = &self.expose {
            x.lock()
                .expect("latest lock")
                .remove_scrape(&self.target.key());
        }
        out
    }

    /// Scrapes once; returns every series to send, markers included.
    pub async fn scrape(&mut self, now_ms: i64) -> Vec<SeriesBatch> {
        let now_ms = now_ms.max(self.last_ms.saturating_add(1));
        self.last_ms = now_ms;
        let started = Instant::now();
        let outcome = match fetch::fetch(&self.http, &self.target).await {
            Ok((body, ct)) => self.parse(&body, &ct, now_ms),
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        let (mut out, mut families, scraped, error) = match outcome {
            Ok(p) => {
                self.metadata = p.metadata;
                (p.series, p.families, Some(p.scraped), p.note)
            }
            Err(e) => (Vec::new(), Families::new(), None, Some(e)),
        };
        let up = scraped.is_some();
        if let (false, Some(e)) = (up, &error) {
            tracing::warn!(job = %self.target.job, url = %self.target.url, error = %e, "scrape failed");
        }
        let post = out.len();
        self.last.mark(&mut out, now_ms);
        let own = |name: &str, v: f64| {
            SeriesBatch::new(
                name,
                self.target.labels.clone(),
                vec![Sample::new(now_ms, v)],
            )
        };
        let values = [
            if up { 1.0 } else { 0.0 },
            took.as_secs_f64(),
            scraped.unwrap_or(0) as f64,
            post as f64,
        ];
        for (name, v) in OWN.iter().zip(values) {
            out.push(own(name, v));
        }
        if let Some(x) = &self.expose {
            let help = "Per scrape, as Prometheus records it.";
            for (name, v) in OWN.iter().zip(values) {
                let l = self.target.labels.clone();
                exposition::add(&mut families, name, MetricType::Gauge, help, name, l, v);
            }
            x.lock()
                .expect("latest lock")
                .set_scrape(&self.target.key(), families);
        }
        *self.status.lock().expect("status lock") = Status {
            job: self.target.job.clone(),
            url: self.target.url.clone(),
            up,
            last_scrape_ms: now_ms,
            duration_ms: took.as_millis() as u64,
            samples: post,
            error,
        };
        out
    }
}
