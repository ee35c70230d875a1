//! The Prometheus HTTP API under `/prometheus/api/v1/`, in Prometheus's
//! JSON shapes, so Grafana's stock data source and promtool work unchanged.

use super::AppState;
use crate::promql::timeparse::{parse_duration_ms, parse_time};
use crate::promql::value::Metric;
use crate::promql::{self, QueryError, Range, Value};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::time::Duration;

/// Prometheus's default API response for `series`/`labels` limits.
pub(super) const MAX_SERIES: usize = 100_000;

pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// A form-encoded POST body's parameters, then the query string's: a
    /// name in both takes the body's value, as in Prometheus (Go's
    /// `FormValue`).
    pub(crate) fn new(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Self {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let mut v: Vec<(String, String)> = if is_form {
            form_urlencoded::parse(body).into_owned().collect()
        } else {
            Vec::new()
        };
        v.extend(form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned());
        Self(v)
    }

    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn time(&self, k: &str, default: i64) -> Result<i64, QueryError> {
        match self.get(k) {
            None | Some("") => Ok(default),
            Some(s) => parse_time(s)
                .map_err(|e| QueryError::BadData(format!("invalid parameter \"{k}\": {e}"))),
        }
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(super) fn success(data: &str) -> Response {
    json_response(
        StatusCode::OK,
        format!("{{\"status\":\"success\",\"data\":{data}}}"),
    )
}

pub(super) fn failure(e: QueryError) -> Response {
    let status = match e.error_type() {
        "bad_data" => StatusCode::BAD_REQUEST,
        "execution" => StatusCode::UNPROCESSABLE_ENTITY,
        "timeout" | "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = match &e {
        QueryError::Source(s) => {
            tracing::warn!(error = %s, "query failed in storage");
            "storage error".to_string()
        }
        other => other.to_string(),
    };
    let body =
        serde_json::json!({"status": "error", "errorType": e.error_type(), "error": message});
    json_response(status, body.to_string())
}

/// Unix seconds as Prometheus writes them: integer when whole, else up to
/// millisecond decimals.
fn write_time(out: &mut String, ms: i64) {
    if ms % 1000 == 0 {
        let _ = write!(out, "{}", ms / 1000);
    } else {
        let secs = ms as f64 / 1000.0;
        let _ = write!(out, "{secs}");
    }
}

fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_time(out, t);
    out.push_str(",\"");
    dozor_common::model::write_value(out, v);
    out.push_str("\"]");
}

fn metric_json(m: &Metric) -> String {
    serde_json::to_string(m).expect("labels serialise")
}

pub fn encode(v: &Value, t: i64) -> String {
    // About 32 bytes a point: sized once instead of doubling through a
    // 100 KB answer.
    let points = match v {
        Value::Matrix(ms) => ms.iter().map(|s| s.points.len()).sum(),
        Value::Vector(vs) => vs.len(),
        _ => 1,
    };
    let mut out = String::with_capacity(64 + points * 32);
    match v {
        Value::Scalar(f) => {
            out.push_str("{\"resultType\":\"scalar\",\"result\":");
            write_point(&mut out, t, *f);
        }
        Value::String(s) => {
            out.push_str("{\"resultType\":\"string\",\"result\":[");
            write_time(&mut out, t);
            let _ = write!(out, ",{}]", serde_json::to_string(s).expect("string"));
        }
        Value::Vector(vs) => {
            out.push_str("{\"resultType\":\"vector\",\"result\":[");
            for (i, s) in vs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{\"metric\":{},\"value\":", metric_json(&s.metric));
                write_point(&mut out, s.t, s.v);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(ms) => {
            out.push_str("{\"resultType\":\"matrix\",\"result\":[");
            for (i, s) in ms.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{\"metric\":{},\"values\":[", metric_json(&s.metric));
                for (j, (pt, pv)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(&mut out, *pt, *pv);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

/// A success envelope around `data`, or Prometheus's error shape.
pub(super) fn respond(result: Result<String, QueryError>) -> Response {
    match result {
        Ok(data) => success(&data),
        Err(e) => failure(e),
    }
}

fn engine_for(state: &AppState, p: &Params) -> Result<promql::Engine, QueryError> {
    let engine = state.0.engine.clone();
    match p.get("timeout") {
        Some(t) if !t.is_empty() => {
            let ms = parse_duration_ms(t)
                .map_err(|e| QueryError::BadData(format!("invalid parameter \"timeout\": {e}")))?;
            Ok(engine.with_timeout(Duration::from_millis(ms.max(1) as u64)))
        }
        _ => Ok(engine),
    }
}

pub(super) fn required<'a>(p: &'a Params, k: &str) -> Result<&'a str, QueryError> {
    p.get(k)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| QueryError::BadData(format!("invalid parameter \"{k}\": missing")))
}

pub async fn query(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    let run = async {
        let query = required(&p, "query")?;
        let t = p.time("time", state.0.ops.now_ms())?;
        let (v, notes) = engine_for(&state, &p)?.instant_annotated(query, t).await?;
        Ok::<_, QueryError>(with_notes(encode(&v, t), &notes))
    };
    respond(run.await)
}

pub async fn query_range(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    let run = async {
        let query = required(&p, "query")?;
        let start = parse_time(required(&p, "start")?)
            .map_err(|e| QueryError::BadData(format!("invalid parameter \"start\": {e}")))?;
        let end = parse_time(required(&p, "end")?)
            .map_err(|e| QueryError::BadData(format!("invalid parameter \"end\": {e}")))?;
        let step = parse_duration_ms(required(&p, "step")?)
            .map_err(|e| QueryError::BadData(format!("invalid parameter \"step\": {e}")))?;
        let (v, notes) = engine_for(&state, &p)?
            .range_annotated(
                query,
                Range {
                    start_ms: start,
                    end_ms: end,
                    step_ms: step,
                },
            )
            .await?;
        Ok::<_, QueryError>(with_notes(encode(&v, start), &notes))
    };
    respond(run.await)
}

/// The query's warnings and infos beside `data`, where Prometheus puts
/// them (see `limited` on how the envelope is written).
fn with_notes(data: String, notes: &promql::annotations::Annotations) -> String {
    let mut out = data;
    for (key, list) in [("warnings", &notes.warnings), ("infos", &notes.infos)] {
        if !list.is_empty() {
            out.push_str(&format!(",\"{key}\":{}", serde_json::json!(list)));
        }
    }
    out
}

pub async fn empty_list() -> Response {
    success("[]")
}

/// Grafana reads the version to pick features; dozor answers queries with
/// Prometheus 3 semantics.
pub async fn buildinfo() -> Response {
    let data = serde_json::json!({
        "version": "3.0.0",
        "revision": concat!("dozor-", env!("CARGO_PKG_VERSION")),
        "branch": "dozor",
        "buildUser": "dozor",
        "buildDate": "",
        "goVersion": "none (dozor is written in Rust)",
    });
    success(&data.to_string())
}

pub async fn runtimeinfo() -> Response {
    success(
        &serde_json::json!({"storageRetention": "see dozor --retention", "corruptionCount": 0})
            .to_string(),
    )
}

pub async fn flags() -> Response {
    success("{}")
}
