//! Probes, blackbox_exporter-style, reported under blackbox_exporter's
//! names so its rules and dashboards fit. Built so far: every service on
//! this host gets an HTTP probe through the host's own nginx each interval
//! (its first domain as `Host`, its path), which says whether nginx and
//! the service answer as a client would see them. The TCP and TLS probes
//! (`tls.rs`, with `der.rs` reading certificate expiry) are built and
//! tested; checks of any URL, run by the agents a user picks, come next
//! (issue 21).

pub mod checks;
pub mod der;
pub mod http;
pub mod tls;

use crate::agent::{now_ms, Agent};
use crate::nginx::Controller;
use crate::output::Output;
use dozor_common::services::ServicesDoc;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The user agent of this agent's probes: a token made at start, so the
/// access log can tell them from clients (they are not traffic) and no
/// client can pass for one.
pub fn user_agent() -> &'static str {
    static UA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    UA.get_or_init(|| format!("dozor-probe/{:016x}", rand::random::<u64>()))
}

/// A service's probe: (service, Host header, path).
pub fn service_targets(doc: &ServicesDoc) -> Vec<(String, String, String)> {
    doc.services
        .iter()
        .filter(|s| s.enabled)
        .filter_map(|s| {
            let domain = s.domains.first()?;
            // A wildcard is probed as one name under it.
            let host = match domain.strip_prefix("*.") {
                Some(rest) => format!("probe.{rest}"),
                None => domain.clone(),
            };
            Some((s.name.clone(), host, s.path.clone()))
        })
        .collect()
}

/// One probe's series under blackbox_exporter's names, with `labels`.
pub fn emit(out: &mut Output, labels: &[(&str, &str)], o: &http::Outcome) {
    out.push("probe_success", labels, if o.success { 1.0 } else { 0.0 });
    out.push("probe_duration_seconds", labels, o.duration.as_secs_f64());
    out.push("probe_http_status_code", labels, f64::from(o.status));
    out.push(
        "probe_http_uncompressed_body_length",
        labels,
        o.body_bytes as f64,
    );
    for (phase, d) in http::PHASES.iter().zip(o.phases) {
        let mut l = labels.to_vec();
        l.push(("phase", phase));
        out.push("probe_http_duration_seconds", &l, d.as_secs_f64());
    }
}

/// Probes every service of this host's current `services` section each
/// interval, at most 10 s each, all at once.
pub fn spawn_service_probes(
    agent: Arc<Agent>,
    nginx: Arc<Controller>,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let interval = agent.interval();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stamps = dozor_common::stamps::Stamps::new(interval);
        let mut stale = crate::staleness::Staleness::default();
        let timeout = interval.clamp(Duration::from_secs(1), Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(doc) = nginx.services().await else {
                continue;
            };
            let ts = stamps.stamp(now_ms());
            let mut out = Output::new(ts);
            match nginx.http_address().await {
                Ok(addr) => {
                    let probes = service_targets(&doc)
                        .into_iter()
                        .map(|(service, host, path)| {
                            let r = http::Request {
                                connect: addr.to_string(),
                                host,
                                path,
                                timeout,
                                up: http::not_server_error,
                                body_match: None,
                            };
                            async move { (service, http::probe(&r).await) }
                        });
                    for (service, o) in futures_util::future::join_all(probes).await {
                        emit(&mut out, &[("service", &service), ("probe", "service")], &o);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "nginx not found for the service probes"),
            }
            let mut series = out.into_series();
            stale.mark(&mut series, ts);
            agent.enqueue(series);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use dozor_common::services::Service;

    #[test]
    fn each_enabled_service_is_probed_on_its_first_domain() {
        let svc = |name: &str, domain: &str, enabled: bool| Service {
            name: name.into(),
            domains: vec![domain.into(), "other.test".into()],
            path: "/api/".into(),
            enabled,
            ..Default::default()
        };
        let doc = ServicesDoc {
            services: vec![
                svc("a", "a.test", true),
                svc("w", "*.w.test", true),
                svc("off", "off.test", false),
            ],
            ..Default::default()
        };
        assert_eq!(
            service_targets(&doc),
            [
                ("a".to_string(), "a.test".to_string(), "/api/".to_string()),
                (
                    "w".to_string(),
                    "probe.w.test".to_string(),
                    "/api/".to_string()
                ),
            ]
        );
    }

    async fn serve(answer: &'static str, delay: Duration) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    tokio::time::sleep(delay).await;
                    let _ = s.write_all(answer.as_bytes()).await;
                });
            }
        });
        addr
    }

    fn request(connect: String, up: fn(u16) -> bool, body_match: Option<&str>) -> http::Request {
        http::Request {
            connect,
            host: "app.test".into(),
            path: "/".into(),
            timeout: Duration::from_millis(500),
            up,
            body_match: body_match.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn http_probes_say_up_down_slow_and_why() {
        let ok = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            Duration::ZERO,
        )
        .await;
        let o = http::probe(&request(ok.clone(), http::success_2xx, Some("ell"))).await;
        assert!(o.success, "{o:?}");
        assert_eq!((o.status, o.body_bytes), (200, 5));
        let o = http::probe(&request(ok, http::success_2xx, Some("bye"))).await;
        assert!(!o.success);
        assert!(o.failure.unwrap().contains("does not contain"));

        let err = serve(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Duration::ZERO,
        )
        .await;
        let o = http::probe(&request(err, http::not_server_error, None)).await;
        assert_eq!((o.success, o.status), (false, 503));

        let slow = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            Duration::from_secs(3),
        )
        .await;
        let o = http::probe(&request(slow, http::success_2xx, None)).await;
        assert!(!o.success && o.failure.unwrap().contains("no answer within"));
        assert!(o.duration < Duration::from_secs(1));

        // Nothing listens there.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let o = http::probe(&request(closed, http::success_2xx, None)).await;
        assert!(!o.success && o.failure.as_deref().unwrap().contains("cannot connect"));
        assert_eq!(o.status, 0);

        let mut out = Output::new(1_000);
        emit(&mut out, &[("service", "app")], &o);
        assert_eq!(out.find("probe_success", &[("service", "app")]), Some(0.0));
        assert!(out
            .find(
                "probe_http_duration_seconds",
                &[("service", "app"), ("phase", "connect")]
            )
            .is_some());
    }
}
