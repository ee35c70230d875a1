//! The minimal read API that exists to exercise the spine; PromQL replaces
//! it as the query path.

use super::{error, storage_error, AppState, ONLINE_WINDOW_MS};
use crate::storage::rollup::Resolution;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dozor_common::Labels;
use serde_json::json;

const MAX_SERIES: usize = 10_000;

pub async fn agents(State(state): State<AppState>) -> Response {
    let now = state.0.ops.now_ms();
    match state.0.store.list_agents().await {
        Ok(list) => {
            let agents: Vec<_> = list
                .into_iter()
                .map(|a| {
                    let online = a.revoked_ms.is_none()
                        && a.last_seen_ms.is_some_and(|t| now - t <= ONLINE_WINDOW_MS);
                    json!({
                        "id": a.id,
                        "name": a.name,
                        "kind": a.kind,
                        "status": if a.revoked_ms.is_some() { "revoked" } else if online { "online" } else { "offline" },
                        "online": online,
                        "last_seen_ms": a.last_seen_ms,
                        "created_ms": a.created_ms,
                        "inventory": a.inventory,
                    })
                })
                .collect();
            Json(json!({ "agents": agents })).into_response()
        }
        Err(e) => storage_error(e),
    }
}

fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `GET /api/v1/series?metric=NAME&label=KEY=VALUE&label=…`
pub async fn series(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let mut metric = None;
    let mut equal = Labels::new();
    for (k, v) in pairs(q.as_deref()) {
        match k.as_str() {
            "metric" => metric = Some(v),
            "label" => match v.split_once('=') {
                Some((lk, lv)) if dozor_common::model::validate_label_name(lk).is_ok() => {
                    equal.insert(lk.to_string(), lv.to_string());
                }
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "label filter {v:?} must look like name=value with a non-empty name other than __name__"
                        ),
                        Some("label".into()),
                    )
                }
            },
            other => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown parameter {other:?}; use metric and label"),
                    Some(other.to_string()),
                )
            }
        }
    }
    match state
        .0
        .store
        .find_series(metric.as_deref(), &equal, MAX_SERIES)
        .await
    {
        Ok(list) => Json(json!({ "series": list })).into_response(),
        Err(e) => storage_error(e),
    }
}

struct RangeQuery {
    start: i64,
    end: i64,
    resolution: Option<Resolution>,
}

/// Parses `start`, `end` (Unix ms) and `resolution`; errors name the field.
fn range_query(q: Option<&str>, now: i64) -> Result<RangeQuery, (String, String)> {
    let mut r = RangeQuery {
        start: now - 3_600_000,
        end: now,
        resolution: None,
    };
    for (k, v) in pairs(q) {
        let num = |v: &str| {
            v.parse::<i64>()
                .map_err(|_| (format!("{k} must be Unix milliseconds"), k.clone()))
        };
        match k.as_str() {
            "start" => r.start = num(&v)?,
            "end" => r.end = num(&v)?,
            "resolution" => {
                r.resolution = Some(
                    Resolution::parse(&v)
                        .ok_or_else(|| ("resolution must be 5m or 1h".to_string(), k.clone()))?,
                )
            }
            other => return Err((format!("unknown parameter {other:?}"), other.to_string())),
        }
    }
    if r.start > r.end {
        return Err(("start is after end".into(), "start".into()));
    }
    Ok(r)
}

/// `GET /api/v1/series/{id}/samples?start=MS&end=MS[&resolution=5m|1h]`;
/// the range defaults to the last hour.
pub async fn samples(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    RawQuery(q): RawQuery,
) -> Response {
    let RangeQuery {
        start,
        end,
        resolution,
    } = match range_query(q.as_deref(), state.0.ops.now_ms()) {
        Ok(r) => r,
        Err((msg, field)) => return error(StatusCode::BAD_REQUEST, msg, Some(field)),
    };
    let store = &state.0.store;
    let series = match store.series_by_id(id).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no series with id {id}"),
                None,
            )
        }
        Err(e) => return storage_error(e),
    };
    match resolution {
        None => match store.samples(id, start, end).await {
            Ok(samples) => Json(json!({ "series": series, "samples": samples })).into_response(),
            Err(e) => storage_error(e),
        },
        Some(res) => match store.rollups(id, res, start, end).await {
            Ok(points) => Json(json!({ "series": series, "rollups": points })).into_response(),
            Err(e) => storage_error(e),
        },
    }
}
