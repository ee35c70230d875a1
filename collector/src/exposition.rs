//! The collector's own `/metrics` (`--listen`): the latest host pass and
//! each target's latest good scrape, in the Prometheus text format, so a
//! plain Prometheus can scrape a dozor collector as it would node_exporter.
//! Families keep the TYPE and HELP their source gave; host metrics have
//! node_exporter's (`proc/catalogue.rs`), container metrics cAdvisor's
//! (`docker/help.rs`).

use dozor_common::expo::{Encoder, Kind, MetricType};
use dozor_common::{Labels, SeriesBatch};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub kind: MetricType,
    pub help: String,
    /// (sample name, labels, value)
    pub samples: Vec<(String, Labels, f64)>,
}

pub type Families = BTreeMap<String, Family>;

#[derive(Default)]
pub struct Latest {
    host: Families,
    containers: Families,
    scrapes: BTreeMap<String, Families>,
}

pub type Shared = Arc<Mutex<Latest>>;

/// The exposition type for a parsed family (0.0.4 has no gaugehistogram,
/// info or stateset: those become untyped).
pub fn metric_type(k: Kind) -> MetricType {
    match k {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
        Kind::Histogram => MetricType::Histogram,
        Kind::Summary => MetricType::Summary,
        _ => MetricType::Untyped,
    }
}

/// Adds a sample to its family (created with `kind` and `help`).
pub fn add(
    f: &mut Families,
    family: &str,
    kind: MetricType,
    help: &str,
    name: &str,
    labels: Labels,
    v: f64,
) {
    f.entry(family.to_string())
        .or_insert_with(|| Family {
            kind,
            help: help.to_string(),
            samples: Vec::new(),
        })
        .samples
        .push((name.to_string(), labels, v));
}

impl Latest {
    /// Replaces the host families with one pass.
    pub fn set_host(&mut self, out: &crate::output::Output) {
        let mut f = Families::new();
        for s in out.series() {
            let Some(last) = s.samples.last() else {
                continue;
            };
            // The words the source gave (textfiles), else node_exporter's;
            // the collector's own series (dozor_agent_*) by their suffix.
            let (family, kind, help) = match out.description(&s.name) {
                Some(d) => (d.family.clone(), d.kind, d.help.clone()),
                None => {
                    let kind = if s.name.ends_with("_total") {
                        MetricType::Counter
                    } else {
                        MetricType::Gauge
                    };
                    (s.name.clone(), kind, "Read by dozor-collector.".into())
                }
            };
            add(
                &mut f,
                &family,
                kind,
                &help,
                &s.name,
                s.labels.clone(),
                last.value,
            );
        }
        self.host = f;
    }

    /// Replaces the container families with one Docker pass (staleness
    /// markers are for the server, not for a scraper of this endpoint).
    pub fn set_containers(&mut self, series: &[SeriesBatch]) {
        let mut f = Families::new();
        for s in series {
            let Some(last) = s.samples.last() else {
                continue;
            };
            if dozor_common::model::is_stale(last.value) {
                continue;
            }
            let (kind, help) = crate::docker::help::describe(&s.name);
            add(
                &mut f,
                &s.name,
                kind,
                help,
                &s.name,
                s.labels.clone(),
                last.value,
            );
        }
        self.containers = f;
    }

    pub fn set_scrape(&mut self, target: &str, f: Families) {
        self.scrapes.insert(target.to_string(), f);
    }

    pub fn remove_scrape(&mut self, target: &str) {
        self.scrapes.remove(target);
    }

    /// Everything, one block per family; families of the same name from
    /// several sources are merged under the first source's TYPE and HELP.
    /// Samples carry no timestamps, as node_exporter's do not: Prometheus
    /// exempts a timestamped sample from staleness handling, so a gone
    /// interface or container would linger; the values are at most one
    /// interval old.
    pub fn render(&self) -> String {
        let mut all: Families = self.host.clone();
        let process = crate::process::families();
        for f in std::iter::once(&self.containers)
            .chain(std::iter::once(&process))
            .chain(self.scrapes.values())
        {
            for (name, fam) in f {
                match all.get_mut(name) {
                    Some(have) => have.samples.extend(fam.samples.iter().cloned()),
                    None => {
                        all.insert(name.clone(), fam.clone());
                    }
                }
            }
        }
        let mut e = Encoder::new();
        for (name, fam) in &all {
            e.family(name, &fam.help, fam.kind);
            let mut seen = std::collections::HashSet::new();
            for (sample, labels, v) in &fam.samples {
                // Two targets exposing the same series: the first wins,
                // since an exposition must not repeat a series.
                if !seen.insert((sample, labels)) {
                    continue;
                }
                let l: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                e.sample(sample, &l, *v);
            }
        }
        e.finish()
    }
}

/// Serves `/metrics` on `addr` until shutdown (HTTP/1.1; anything else
/// is 404).
pub async fn serve(
    addr: SocketAddr,
    latest: Shared,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Response, StatusCode};
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                _ = shutdown.cancelled() => return,
                c = listener.accept() => c,
            };
            let Ok((stream, _)) = conn else { continue };
            let latest = latest.clone();
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let resp =
                        if req.uri().path() == "/metrics" && req.method() == hyper::Method::GET {
                            let text = latest.lock().expect("latest lock").render();
                            Response::builder()
                                .header("content-type", dozor_common::expo::CONTENT_TYPE)
                                .body(Full::new(Bytes::from(text)))
                        } else {
                            Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::from_static(b"only /metrics here\n")))
                        };
                    async move { resp }
                });
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await
                {
                    tracing::debug!(error = %e, "a /metrics connection ended badly");
                }
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dozor_common::Sample;

    #[test]
    fn containers_and_the_process_are_served_without_markers() {
        let labels: Labels = [("container".to_string(), "web".to_string())].into();
        let series = vec![
            SeriesBatch::new(
                "container_memory_usage_bytes",
                labels.clone(),
                vec![Sample::new(1, 5e6)],
            ),
            SeriesBatch::new(
                "dozor_container_state",
                labels,
                vec![Sample::new(1, dozor_common::model::stale_nan())],
            ),
        ];
        let mut l = Latest::default();
        l.set_containers(&series);
        let text = l.render();
        assert!(
            text.contains("container_memory_usage_bytes{container=\"web\"} 5000000\n"),
            "{text}"
        );
        assert!(!text.contains("dozor_container_state"), "{text}");
        // cAdvisor's words.
        assert!(
            text.contains("# HELP container_memory_usage_bytes Current memory usage in bytes, including all memory regardless of when it was accessed\n# TYPE container_memory_usage_bytes gauge\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE process_cpu_seconds_total counter\n"),
            "{text}"
        );
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
    }
}
