//! The Prometheus HTTP API under `/prometheus/api/v1/`, in Prometheus's
//! JSON shapes, so Grafana's stock data source and promtool work unchanged.

use super::AppState;
use crate::promql::timeparse::{parse_duration_ms, parse_time};
use crate::promql::value::{format_float, Metric, NAME};
use crate::promql::{self, QueryError, Range, Value};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

/// Prometheus's default API response for `series`/`labels` limits.
const MAX_SERIES: usize = 100_000;

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

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn time(&self, k: &str, default: i64) -> Result<i64, QueryError> {
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

fn failure(e: QueryError) -> Response {
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
    out.push_str(&format_float(v));
    out.push_str("\"]");
}

fn metric_json(m: &Metric) -> String {
    serde_json::to_string(m).expect("labels serialise")
}

pub fn encode(v: &Value, t: i64) -> String {
    let mut out = String::new();
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

/// Series matching any `match[]` selector (all series without one, for
/// `labels` and label values).
pub(crate) async fn matching(
    state: &AppState,
    p: &Params,
    required_match: bool,
) -> Result<Vec<Metric>, QueryError> {
    let selectors = p.all("match[]");
    if selectors.is_empty() && required_match {
        return Err(QueryError::BadData("no match[] parameter provided".into()));
    }
    let store = state.0.engine.source();
    let mut out = Vec::new();
    let mut ids = Vec::new();
    let mut seen = BTreeSet::new();
    if selectors.is_empty() {
        for s in store
            .find_series(None, &Default::default(), MAX_SERIES)
            .await?
        {
            let mut m = s.labels;
            m.insert(NAME.to_string(), s.metric);
            out.push(m);
            ids.push(s.id);
        }
    }
    for sel in selectors {
        let expr = promql::parse_param("match[]", sel)?;
        let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
            return Err(QueryError::BadData(format!(
                "invalid parameter \"match[]\": {sel:?} is not a series selector"
            )));
        };
        let name = vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == NAME && matches!(m.op, promql_parser::label::MatchOp::Equal))
                .map(|m| m.value.clone())
        });
        for s in store
            .find_series(name.as_deref(), &Default::default(), MAX_SERIES)
            .await?
        {
            let mut m = s.labels;
            m.insert(NAME.to_string(), s.metric);
            if promql::plan_matches(&vs, &m) && seen.insert(crate::promql::value::signature(&m)) {
                out.push(m);
                ids.push(s.id);
            }
        }
    }
    // `start`/`end`: only series with samples in that range, as Prometheus
    // lists them (a host gone a day ago is not in a 10-minute picker).
    if p.get("start").is_some_and(|v| !v.is_empty()) || p.get("end").is_some_and(|v| !v.is_empty())
    {
        let start = p.time("start", i64::MIN / 2)?;
        let end = p.time("end", i64::MAX / 2)?;
        let live = store.series_with_samples(&ids, start, end).await?;
        out = out
            .into_iter()
            .zip(ids)
            .filter(|(_, id)| live.contains(id))
            .map(|(m, _)| m)
            .collect();
    }
    Ok(out)
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

/// `limit` (0 or absent: none), and the warning Prometheus gives when it
/// cut the answer.
fn limited<T: serde::Serialize>(p: &Params, items: Vec<T>) -> Result<String, QueryError> {
    let limit = match p.get("limit") {
        None | Some("") => 0,
        Some(v) => v.parse::<usize>().map_err(|_| {
            QueryError::BadData(format!(
                "invalid parameter \"limit\": {v:?} is not a number"
            ))
        })?,
    };
    let truncated = limit > 0 && items.len() > limit;
    let shown = if truncated {
        &items[..limit]
    } else {
        &items[..]
    };
    let data = serde_json::to_string(shown).expect("serialises");
    // `success` writes `{"status":"success","data":` + this + `}`, so the
    // warnings land beside `data` in the envelope, where Prometheus has them.
    Ok(if truncated {
        format!("{data},\"warnings\":[\"results truncated due to limit\"]")
    } else {
        data
    })
}

pub async fn series(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    respond(async { limited(&p, matching(&state, &p, true).await?) }.await)
}

pub async fn labels(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    respond(
        async {
            let list = matching(&state, &p, false).await?;
            let names: BTreeSet<&String> = list.iter().flat_map(|m| m.keys()).collect();
            limited(&p, names.into_iter().collect())
        }
        .await,
    )
}

pub async fn label_values(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::new(q.as_deref(), &HeaderMap::new(), &[]);
    respond(
        async {
            let list = matching(&state, &p, false).await?;
            let values: BTreeSet<&String> = list.iter().filter_map(|m| m.get(&name)).collect();
            limited(&p, values.into_iter().collect())
        }
        .await,
    )
}

/// `metadata?metric=&limit=`: what senders reported (remote_write carries
/// it), by metric, in Prometheus's shape.
pub async fn metadata(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let p = Params::new(q.as_deref(), &HeaderMap::new(), &[]);
    let limit = match p.get("limit") {
        None | Some("") => MAX_SERIES,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => (n as usize).min(MAX_SERIES),
            Ok(_) => MAX_SERIES,
            Err(_) => {
                return failure(QueryError::BadData(format!(
                    "invalid parameter \"limit\": {v:?} is not a number"
                )))
            }
        },
    };
    let metric = p.get("metric").filter(|m| !m.is_empty());
    match state.0.store.metadata(metric, limit).await {
        Ok(list) => {
            let mut out = serde_json::Map::new();
            for e in list {
                out.insert(
                    e.metric,
                    serde_json::json!([{"type": e.kind, "help": e.help, "unit": e.unit}]),
                );
            }
            success(&serde_json::Value::Object(out).to_string())
        }
        Err(e) => super::storage_error(e),
    }
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
