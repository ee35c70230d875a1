//! `/prometheus/federate`: the latest sample of matching series as text
//! exposition, for another Prometheus to scrape.

use super::prom::Params;
use super::AppState;
use crate::promql::value::NAME;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// `/prometheus/federate?match[]=…`: the latest sample of each matching
/// series in the text exposition format, with timestamps. Names outside
/// the classic syntax (stored from Prometheus 3 senders) are written as
/// Prometheus 3 does: quoted for a client whose Accept header asks for
/// `escaping=allow-utf-8`, else with underscores for the characters a
/// classic name cannot hold, so a Prometheus 2 can still read the page.
pub async fn federate(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let utf8 = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("escaping=allow-utf-8"));
    let p = Params::new(q.as_deref(), &HeaderMap::new(), &[]);
    let selectors = p.all("match[]");
    if selectors.is_empty() {
        return (StatusCode::BAD_REQUEST, "no match[] parameter provided\n").into_response();
    }
    let samples = match state
        .0
        .engine
        .latest(&selectors, state.0.ops.now_ms())
        .await
    {
        Ok(s) => s,
        Err(e) => {
            let status = if e.error_type() == "bad_data" {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            return (status, format!("{e}\n")).into_response();
        }
    };
    let mut enc = dozor_common::expo::Encoder::new();
    let mut current: Option<String> = None;
    let escape = |n: &str, metric: bool| {
        if utf8 {
            n.to_string()
        } else {
            dozor_common::expo::escape_underscores(n, metric)
        }
    };
    for s in &samples {
        let name = escape(s.metric.get(NAME).map_or("", |n| n.as_str()), true);
        if current.as_deref() != Some(name.as_str()) {
            enc.family_type(&name, dozor_common::expo::MetricType::Untyped);
            current = Some(name.clone());
        }
        let labels: Vec<(String, &str)> = s
            .metric
            .iter()
            .filter(|(k, _)| *k != NAME)
            .map(|(k, v)| (escape(k, false), v.as_str()))
            .collect();
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        enc.sample_at(&name, &labels, s.v, s.t);
    }
    (
        [(header::CONTENT_TYPE, dozor_common::expo::CONTENT_TYPE)],
        enc.finish(),
    )
        .into_response()
}
