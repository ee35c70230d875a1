//! The Services pages' figures from metrics: each service's requests/s,
//! 5xx ratio and p95 over the last 5 minutes (the list), and its uptime
//! from the agent's probes (the service page).

use super::AppState;
use dozor_ui::pages::services as page;
use std::collections::HashMap;

/// Every service's last 5 minutes, by name. A failed query leaves its
/// column empty: the list is still worth showing.
pub(crate) async fn by_service(s: &AppState) -> HashMap<String, page::Traffic> {
    use dozor_ui::DataSource;
    let src = super::ui_source::Source { state: s.clone() };
    let now = src.now_ms();
    let mut out: HashMap<String, page::Traffic> = HashMap::new();
    for (i, q) in page::TRAFFIC_QUERIES.iter().enumerate() {
        let rows = match src.query_instant(q, now).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, query = q, "service traffic not read");
                continue;
            }
        };
        for r in rows {
            let Some(name) = r.labels.get("service").filter(|n| !n.is_empty()) else {
                continue;
            };
            let t = out.entry(name.clone()).or_default();
            let v = Some(r.value);
            match i {
                0 => t.rps = v,
                1 => t.error_ratio = v,
                _ => t.p95_s = v,
            }
        }
    }
    out
}

/// The share of successful probes of `service` over each of
/// [`UPTIME_WINDOWS`](dozor_ui::pages::services::detail::UPTIME_WINDOWS),
/// over every agent that probes it.
pub(crate) async fn uptime(s: &AppState, service: &str) -> [Option<f64>; 3] {
    use dozor_ui::pages::services::detail::UPTIME_WINDOWS;
    use dozor_ui::DataSource;
    let src = super::ui_source::Source { state: s.clone() };
    let now = src.now_ms();
    let mut out = [None; 3];
    // A service name is a slug: nothing to escape in the selector.
    for (i, w) in UPTIME_WINDOWS.iter().enumerate() {
        let q = format!(r#"avg(avg_over_time(probe_success{{service="{service}"}}[{w}]))"#);
        match src.query_instant(&q, now).await {
            Ok(rows) => out[i] = rows.first().map(|r| r.value).filter(|v| v.is_finite()),
            Err(e) => tracing::warn!(error = %e, "service uptime not read"),
        }
    }
    out
}
