//! The autoscaler: every interval, each enabled policy's number is read
//! through the PromQL engine (the one alert rules use), with its
//! freshness, the host's state and any unfinished action, and
//! `autoscale::decide` says what to do. Scales go through
//! `ops::autoscale::carry_out` (dry runs are recorded only); a skip is
//! recorded when its reason changes, so the record says why nothing
//! happened without a row every ten seconds. A failed action backs the
//! policy off (1 min doubling to 30 min) instead of retrying at once.
//! The replica counts and decision counts are stored as series with
//! `job="dozor"` for the service page's chart.

pub mod observe;
pub mod preview;

use crate::clock::Clock;
use crate::ops::Ops;
use crate::storage::ScaleEvent;
use dozor_common::autoscale::{acted, decide, Decision, Direction, Memory, Policy};
use dozor_common::{Labels, Sample, SeriesBatch};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the autoscaler knows of one policy between evaluations.
#[derive(Debug, Clone, Default)]
pub struct Track {
    pub mem: Memory,
    /// The last recorded skip's reason, so a repeat is not stored again.
    pub last_skip: Option<String>,
    /// The last evaluation: when, the value and what was decided.
    pub last: Option<(i64, Option<f64>, String)>,
    pub failures: u32,
    pub backoff_until_ms: i64,
    /// The policy `mem` was built under: an edit (dry run turned off, a
    /// new threshold) starts the for-durations over.
    pub policy: Option<Policy>,
}

/// The longest cooldown a policy may have: stored scales further back
/// cannot hold a new one.
const COOLDOWN_LOOKBACK_MS: i64 = 24 * 3_600_000;

/// Shared with the pages (the last evaluation of each policy).
#[derive(Default)]
pub struct Autoscaler {
    pub tracks: Mutex<HashMap<String, Track>>,
    /// (service, direction, result) → decisions so far.
    decisions: Mutex<BTreeMap<(String, String, String), u64>>,
}

impl Autoscaler {
    pub fn last(&self, service: &str) -> Option<(i64, Option<f64>, String)> {
        self.tracks
            .lock()
            .expect("tracks lock")
            .get(service)
            .and_then(|t| t.last.clone())
    }

    fn count(&self, service: &str, direction: &str, result: &str) {
        *self
            .decisions
            .lock()
            .expect("decisions lock")
            .entry((service.into(), direction.into(), result.into()))
            .or_default() += 1;
    }

    /// One evaluation of every policy.
    pub async fn evaluate(&self, ops: &Ops, engine: &crate::promql::Engine) -> Vec<SeriesBatch> {
        let now = ops.now_ms();
        for e in crate::ops::autoscale::settle(ops).await.unwrap_or_default() {
            let ok = e.result.as_deref() == Some("ok");
            let mut tracks = self.tracks.lock().expect("tracks lock");
            let t = tracks.entry(e.service.clone()).or_default();
            if ok {
                t.failures = 0;
            } else if e.actor == "policy" {
                t.failures += 1;
                let wait = 60_000i64 << t.failures.min(5).saturating_sub(1);
                t.backoff_until_ms = now + wait.min(30 * 60_000);
            }
        }
        let policies = crate::ops::autoscale::policies(ops)
            .await
            .unwrap_or_default();
        let mut series = Vec::new();
        for p in policies.iter().filter(|p| p.enabled) {
            match observe::observe(ops, engine, p, now).await {
                Ok((o, host)) => {
                    self.step(ops, p, o, now).await;
                    series.extend(replica_series(&p.service, &host, o.replicas, now));
                }
                Err(e) => {
                    tracing::warn!(service = %p.service, error = %e, "autoscale: cannot observe")
                }
            }
        }
        for ((service, direction, result), n) in
            self.decisions.lock().expect("decisions lock").iter()
        {
            series.push(batch(
                "dozor_autoscale_decisions_total",
                &[
                    ("service", service),
                    ("direction", direction),
                    ("result", result),
                ],
                *n as f64,
                now,
            ));
        }
        series
    }

    /// After a restart or an edit, the policy's memory starts over: no
    /// condition has held yet, and the cooldowns run from the last real
    /// scales on record (a dry run's imagined ones do not hold a real one
    /// back, and a restart does not lift a real one).
    async fn remember(&self, ops: &Ops, p: &Policy, now: i64) {
        let current = {
            let tracks = self.tracks.lock().expect("tracks lock");
            tracks.get(&p.service).and_then(|t| t.policy.as_ref()) == Some(p)
        };
        if current {
            return;
        }
        let events = ops
            .store()
            .scale_events(Some(&p.service), now - COOLDOWN_LOOKBACK_MS)
            .await
            .unwrap_or_default();
        let mut mem = Memory::default();
        // Done or under way; a failed one is the backoff's business.
        let counts = |e: &&ScaleEvent| {
            e.kind == "scale" && !e.dry_run && matches!(e.result.as_deref(), None | Some("ok"))
        };
        for e in events.iter().filter(counts) {
            let last = match e.direction.as_str() {
                "up" => &mut mem.last_up_ms,
                "down" => &mut mem.last_down_ms,
                _ => continue,
            };
            *last = Some(last.map_or(e.ts_ms, |t: i64| t.max(e.ts_ms)));
        }
        let mut tracks = self.tracks.lock().expect("tracks lock");
        let t = tracks.entry(p.service.clone()).or_default();
        t.mem = mem;
        t.policy = Some(p.clone());
    }

    async fn step(&self, ops: &Ops, p: &Policy, o: dozor_common::autoscale::Observed, now: i64) {
        self.remember(ops, p, now).await;
        let (decision, backoff) = {
            let mut tracks = self.tracks.lock().expect("tracks lock");
            let t = tracks.entry(p.service.clone()).or_default();
            (
                decide(p, &o, &mut t.mem, now),
                (t.backoff_until_ms > now).then_some(t.failures),
            )
        };
        let (kind, direction, to, reason) = match &decision {
            Decision::Hold(why) => {
                self.note(p, now, o.value, why.clone());
                return;
            }
            Decision::Skip(d, why) => ("skip", *d, o.replicas, why.clone()),
            Decision::Scale { direction, to, .. } => match backoff {
                Some(n) => (
                    "skip",
                    *direction,
                    o.replicas,
                    format!("backing off after {n} failed action(s)"),
                ),
                None => ("scale", *direction, *to, "policy".to_string()),
            },
        };
        let text = if kind == "scale" {
            format!("{} → {to}", o.replicas)
        } else {
            reason.clone()
        };
        self.note(p, now, o.value, text);
        if kind == "skip" {
            let repeat = {
                let mut tracks = self.tracks.lock().expect("tracks lock");
                let t = tracks.entry(p.service.clone()).or_default();
                let repeat = t.last_skip.as_deref() == Some(reason.as_str());
                t.last_skip = Some(reason.clone());
                repeat
            };
            if repeat {
                return;
            }
        }
        let e = ScaleEvent {
            id: 0,
            service: p.service.clone(),
            ts_ms: now,
            kind: kind.into(),
            direction: direction.as_str().into(),
            from: o.replicas,
            to,
            value: o.value,
            reason: if kind == "scale" {
                format!(
                    "{} {} {}",
                    p.metric.as_str(),
                    if direction == Direction::Up {
                        "above"
                    } else {
                        "below"
                    },
                    if direction == Direction::Up {
                        p.up.threshold
                    } else {
                        p.down.threshold
                    }
                )
            } else {
                reason
            },
            dry_run: p.dry_run,
            actor: "policy".into(),
            task_id: None,
            result: None,
            finished_ms: None,
        };
        let result = if kind == "skip" {
            "skipped"
        } else if p.dry_run {
            "dry_run"
        } else {
            "scaled"
        };
        self.count(&p.service, direction.as_str(), result);
        if kind == "scale" {
            let mut tracks = self.tracks.lock().expect("tracks lock");
            let t = tracks.entry(p.service.clone()).or_default();
            acted(&mut t.mem, direction, now);
            t.last_skip = None;
        }
        if let Err(err) = crate::ops::autoscale::carry_out(ops, e, Some(p)).await {
            tracing::warn!(service = %p.service, error = %err, "autoscale: the action was not handed over");
        }
    }

    fn note(&self, p: &Policy, now: i64, value: Option<f64>, what: String) {
        let mut tracks = self.tracks.lock().expect("tracks lock");
        tracks.entry(p.service.clone()).or_default().last = Some((now, value, what));
    }
}

fn batch(name: &str, labels: &[(&str, &str)], value: f64, now: i64) -> SeriesBatch {
    let mut l: Labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert("job".into(), "dozor".into());
    l.insert("instance".into(), "autoscaler".into());
    SeriesBatch::new(name, l, vec![Sample::new(now, value)])
}

fn replica_series(service: &str, host: &str, running: u32, now: i64) -> Vec<SeriesBatch> {
    vec![batch(
        "dozor_service_replicas",
        &[("service", service), ("host", host), ("state", "running")],
        f64::from(running),
        now,
    )]
}

/// Evaluates every `interval` until shutdown, storing its series.
pub async fn run(
    scaler: Arc<Autoscaler>,
    ops: Ops,
    ingest: crate::ingest::Ingest,
    engine: crate::promql::Engine,
    clock: Clock,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let series = scaler.evaluate(&ops, &engine).await;
        if !series.is_empty() {
            if let Err(e) = ingest.remote_write(series, clock.now_ms()).await {
                tracing::warn!(error = %e, "autoscale series not stored; next time");
            }
        }
    }
}
