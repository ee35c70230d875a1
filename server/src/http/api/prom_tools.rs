//! The Prometheus API's query tools and configuration status, answered as
//! they make sense for dozor: `format_query` (the query as Prometheus's
//! formatter lays it out), `parse_query` (the syntax tree as JSON) and
//! `status/config` (dozor has no Prometheus configuration file; it says
//! where its configuration lives instead).

use super::prom::{required, respond, success, Params};
use crate::promql;
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::HeaderMap;
use axum::response::Response;

pub async fn format_query(RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    respond((|| {
        let expr = promql::parse(required(&p, "query")?)?;
        Ok(serde_json::Value::String(expr.prettify()).to_string())
    })())
}

pub async fn parse_query(RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let p = Params::new(q.as_deref(), &headers, &body);
    respond((|| {
        let expr = promql::parse(required(&p, "query")?)?;
        serde_json::to_string(&expr)
            .map_err(|e| promql::QueryError::Internal(format!("cannot encode the tree: {e}")))
    })())
}

pub async fn config() -> Response {
    let yaml = "# dozor is configured by its command-line flags (status/flags), its\n\
                # rule files and its dashboard; it reads no Prometheus configuration.\n";
    success(&serde_json::json!({ "yaml": yaml }).to_string())
}
