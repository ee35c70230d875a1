//! The Services list's traffic columns: each service's requests/s, 5xx
//! ratio and p95 over the last 5 minutes, from the access log metrics its
//! agent sends.

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
