//! What a policy's evaluation sees: its number, whether the data behind
//! it is recent, whether the host is online, whether an action is still
//! under way, and how many replicas run.

use crate::ops::Ops;
use dozor_common::autoscale::{Metric, Observed, Policy};

/// Data older than this is stale: four collector intervals at the
/// default 15 s. PromQL's lookback would otherwise keep answering with a
/// stopped agent's last value for five minutes.
pub const FRESH_MS: i64 = 60_000;

/// How long a finished scale may wait for the host's container report.
const REPORT_LAG_MS: i64 = 30_000;

/// The first number a query returns, if any.
pub async fn number(
    engine: &crate::promql::Engine,
    q: &str,
    now: i64,
) -> Result<Option<f64>, String> {
    use crate::promql::Value;
    match engine.instant(q, now).await.map_err(|e| e.to_string())? {
        Value::Scalar(v) => Ok(Some(v)),
        Value::Vector(v) => Ok(v.first().map(|s| s.v)),
        _ => Ok(None),
    }
}

pub async fn observe(
    ops: &Ops,
    engine: &crate::promql::Engine,
    p: &Policy,
    now: i64,
) -> Result<(Observed, String), String> {
    let s = ops
        .store()
        .service(&p.service)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no service called {}", p.service))?;
    let host = s.spec.host;
    let value = number(
        engine,
        &p.metric
            .query(&p.service, &host, p.promql.as_deref(), p.window_s),
        now,
    )
    .await?;
    // The newest sample of what the number is made of.
    let basis = match p.metric {
        Metric::Rps | Metric::P95 => "dozor_http_requests_total",
        _ => "container_cpu_usage_seconds_total",
    };
    let newest = number(
        engine,
        &format!(
            r#"max(timestamp({basis}{{host="{host}",service="{}"}}))"#,
            p.service
        ),
        now,
    )
    .await?;
    let fresh = newest.is_some_and(|t| now - (t * 1000.0) as i64 <= FRESH_MS);
    let agent = ops
        .store()
        .agent_by_name(&host)
        .await
        .map_err(|e| e.to_string())?;
    let host_online = agent.is_some_and(|a| {
        a.revoked_ms.is_none()
            && a.last_seen_ms
                .is_some_and(|t| now - t <= crate::tasks::ONLINE_WINDOW_MS)
    });
    let replicas = crate::ops::autoscale::running(ops, &host, &p.service)
        .await
        .map_err(|e| e.to_string())?;
    let unfinished = ops
        .store()
        .unfinished_scales()
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .any(|e| e.service == p.service);
    // A scale the host finished counts as under way until the host's
    // container report shows it (or for REPORT_LAG_MS): the task's answer
    // can arrive before the next report, and deciding on the old count
    // would repeat the action.
    let last_done = ops
        .store()
        .scale_events(Some(&p.service), now - REPORT_LAG_MS)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .rev()
        .find(|e| e.kind == "scale" && !e.dry_run && e.result.as_deref() == Some("ok"));
    let unreported = last_done.is_some_and(|e| {
        e.to != replicas && e.finished_ms.is_some_and(|t| now - t < REPORT_LAG_MS)
    });
    let pending = unfinished || unreported;
    Ok((
        Observed {
            value,
            fresh,
            host_online,
            pending,
            replicas,
        },
        host,
    ))
}
