//! A policy replayed over the last hours: its number as a range query at
//! the autoscaler's interval, fed to the same `decide` the live loop
//! runs, with every scale applied to a simulated replica count (the data
//! counts as fresh, the host as online and each action as done at once).

use dozor_common::autoscale::{acted, decide, Decision, Memory, Observed, Policy};
use dozor_ui::pages::services::scaling::{Preview, Window};

pub const WINDOW_MS: i64 = 6 * 3_600_000;
const STEP_MS: i64 = 30_000;

pub async fn replay(
    engine: &crate::promql::Engine,
    p: &Policy,
    host: &str,
    start_replicas: u32,
    now_ms: i64,
) -> Preview {
    use crate::promql::Value;
    let q = p
        .metric
        .query(&p.service, host, p.promql.as_deref(), p.window_s);
    let range = crate::promql::Range {
        start_ms: now_ms - WINDOW_MS,
        end_ms: now_ms,
        step_ms: STEP_MS,
    };
    let points: Vec<(i64, f64)> = match engine.range(&q, range).await {
        Ok(Value::Matrix(m)) => m.first().map(|s| s.points.clone()).unwrap_or_default(),
        Ok(_) => Vec::new(),
        Err(e) => {
            return Preview {
                error: Some(e.to_string()),
                ..Default::default()
            }
        }
    };
    let mut mem = Memory::default();
    let mut n = start_replicas.clamp(p.min, p.max);
    let mut out = Preview {
        peak: n,
        evaluations: points.len(),
        window: Window {
            start: range.start_ms,
            end: range.end_ms,
            step: range.step_ms,
        },
        points: points.clone(),
        ..Default::default()
    };
    for (t, v) in points {
        let o = Observed {
            value: Some(v),
            fresh: true,
            host_online: true,
            pending: false,
            replicas: n,
        };
        if let Decision::Scale {
            direction,
            from,
            to,
        } = decide(p, &o, &mut mem, t)
        {
            acted(&mut mem, direction, t);
            out.scales.push((t, from, to, v));
            n = to;
            out.peak = out.peak.max(n);
        }
    }
    out
}
