//! The Prometheus API's listings: `series`, `labels`, `label/*/values`
//! (with `match[]`, `start`/`end` and `limit`) and `metadata`.

use super::prom::{failure, respond, success, Params, MAX_SERIES};
use super::AppState;
use crate::promql::value::{Metric, NAME};
use crate::promql::{self, QueryError};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use std::collections::BTreeSet;

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
            let mut m = Metric::from(s.labels);
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
            let mut m = Metric::from(s.labels);
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
