//! The agent's side of checks: the `checks` section says which to run; a
//! loop runs each on its interval (all due ones at once, each within its
//! timeout) and sends the results under blackbox_exporter's names with
//! `check`, `instance` and `probe` (the kind) labels.

use super::{http, tls};
use crate::agent::{now_ms, Agent};
use crate::output::Output;
use dozor_common::checks::{host_port, Check, Kind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub struct Runner {
    checks: Mutex<Vec<Check>>,
}

impl Runner {
    /// A new `checks` section; each is checked again before it runs.
    pub fn apply(&self, checks: Vec<Check>) -> Result<(), String> {
        let mut good = Vec::new();
        let mut refused = Vec::new();
        for c in checks {
            match dozor_common::checks::check(&c) {
                Ok(()) => good.push(c),
                Err(e) => refused.push(format!(
                    "{}: {}",
                    c.name,
                    e.iter()
                        .map(|f| f.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            }
        }
        *self.checks.lock().expect("checks lock") = good;
        if refused.is_empty() {
            Ok(())
        } else {
            Err(format!("checks left out: {}", refused.join(" / ")))
        }
    }

    fn current(&self) -> Vec<Check> {
        self.checks.lock().expect("checks lock").clone()
    }
}

/// One check's series into `out`.
async fn run(c: &Check, out: &mut Output) {
    let timeout = Duration::from_secs(u64::from(c.timeout_s));
    let labels = [
        ("check", c.name.as_str()),
        ("instance", c.target.as_str()),
        ("probe", c.kind.as_str()),
    ];
    match c.kind {
        Kind::Http => {
            let o = match host_port(c) {
                Ok((host, port)) => {
                    let rest = c.target.trim_start_matches("http://");
                    let path = rest.find('/').map_or("/", |i| &rest[i..]);
                    let authority = rest.split('/').next().unwrap_or("");
                    http::probe(&http::Request {
                        connect: if host.contains(':') {
                            format!("[{host}]:{port}")
                        } else {
                            format!("{host}:{port}")
                        },
                        host: authority.to_string(),
                        path: path.to_string(),
                        timeout,
                        up: http::success_2xx,
                        body_match: c.body_match.clone(),
                    })
                    .await
                }
                Err(e) => http::Outcome {
                    failure: Some(e),
                    ..Default::default()
                },
            };
            super::emit(out, &labels, &o);
        }
        Kind::Tcp | Kind::Tls => {
            let o = match (c.kind, host_port(c)) {
                (_, Err(e)) => tls::Outcome {
                    failure: Some(e),
                    ..Default::default()
                },
                (Kind::Tcp, Ok(_)) => tls::tcp(&c.target, timeout).await,
                (_, Ok((host, _))) => tls::handshake(&c.target, &host, timeout, &[]).await,
            };
            out.push("probe_success", &labels, if o.success { 1.0 } else { 0.0 });
            out.push("probe_duration_seconds", &labels, o.duration.as_secs_f64());
            if let Some(e) = o.earliest_expiry {
                out.push("probe_ssl_earliest_cert_expiry", &labels, e as f64);
            }
        }
    }
}

/// Runs every due check each second; a check is due its interval after
/// it last started. A check taken away gets staleness markers for the
/// series it had, so it stops answering at once rather than after the
/// 5-minute lookback.
pub fn spawn(agent: Arc<Agent>, runner: Arc<Runner>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut last: HashMap<String, Instant> = HashMap::new();
        let mut stale: HashMap<String, crate::staleness::Staleness> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let checks = runner.current();
            let ts = now_ms();
            let mut gone = Vec::new();
            stale.retain(|name, s| {
                let keep = checks.iter().any(|c| &c.name == name);
                if !keep {
                    gone.extend(s.retire(ts));
                }
                keep
            });
            last.retain(|name, _| checks.iter().any(|c| &c.name == name));
            let due: Vec<Check> = checks
                .into_iter()
                .filter(|c| {
                    last.get(&c.name)
                        .is_none_or(|t| t.elapsed() >= Duration::from_secs(u64::from(c.interval_s)))
                })
                .collect();
            for c in &due {
                last.insert(c.name.clone(), Instant::now());
            }
            let results = futures_util::future::join_all(due.iter().map(|c| async move {
                let mut out = Output::new(ts);
                run(c, &mut out).await;
                (c.name.clone(), out.into_series())
            }))
            .await;
            let mut series = gone;
            for (name, mut s) in results {
                stale.entry(name).or_default().mark(&mut s, ts);
                series.extend(s);
            }
            if !series.is_empty() {
                agent.enqueue(series);
            }
        }
    });
}
