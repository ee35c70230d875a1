//! `/prometheus/api/v1/rules` and `/prometheus/api/v1/alerts` in
//! Prometheus's shapes, so Grafana lists dozor's rules and alerts.

use super::AppState;
use crate::alerting::rules::Rule;
use crate::alerting::state::State as AlertState;
use crate::alerting::template::format_value;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;

fn rfc3339(ms: i64) -> String {
    crate::alerting::notify::rfc3339(ms)
}

fn ok(data: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"status": "success", "data": data}).to_string(),
    )
        .into_response()
}

/// The alerts of every alerting rule, or of the rule keyed `rule`.
async fn alert_objects(s: &AppState, rule: Option<&str>) -> Vec<Value> {
    let Some(a) = &s.0.alerting else {
        return Vec::new();
    };
    let snapshot = a.snapshot().await;
    let mut out = Vec::new();
    for g in &a.all_groups() {
        for r in &g.rules {
            let Rule::Alert(rule_def) = r else { continue };
            if rule.is_some_and(|k| k != rule_def.key) {
                continue;
            }
            for (labels, al) in snapshot.get(&rule_def.key).into_iter().flatten() {
                let annotations: HashMap<&str, String> = rule_def
                    .annotations
                    .iter()
                    .map(|(k, _, t)| (k.as_str(), t.render(labels, al.value)))
                    .collect();
                out.push(json!({
                    "labels": labels,
                    "annotations": annotations,
                    "state": if al.state == AlertState::Firing { "firing" } else { "pending" },
                    "activeAt": rfc3339(al.active_at_ms),
                    "value": format_value(al.value),
                }));
            }
        }
    }
    out
}

pub async fn alerts(State(s): State<AppState>) -> Response {
    ok(json!({ "alerts": alert_objects(&s, None).await }))
}

pub async fn rules(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(a) = &s.0.alerting else {
        return ok(json!({"groups": []}));
    };
    let want = q.get("type").map(String::as_str);
    let mut groups = Vec::new();
    for g in &a.all_groups() {
        let mut rules = Vec::new();
        for r in &g.rules {
            let (last, err) = a.health(r.key()).unwrap_or((0, None));
            let health = match (&err, last) {
                (Some(_), _) => "err",
                (None, 0) => "unknown",
                _ => "ok",
            };
            let common = |kind: &str, query: &str, labels: &crate::alerting::state::Labels| {
                json!({
                    "type": kind,
                    "name": r.name(),
                    "query": query,
                    "labels": labels,
                    "health": health,
                    "lastError": err.clone().unwrap_or_default(),
                    "lastEvaluation": if last > 0 { rfc3339(last) } else { "0001-01-01T00:00:00Z".into() },
                    "evaluationTime": 0,
                })
            };
            match r {
                Rule::Alert(def) if want != Some("record") => {
                    let mut v = common("alerting", &def.expr, &def.labels);
                    let alerts = alert_objects(&s, Some(&def.key)).await;
                    let state = if alerts.iter().any(|a| a["state"] == "firing") {
                        "firing"
                    } else if alerts.is_empty() {
                        "inactive"
                    } else {
                        "pending"
                    };
                    v["duration"] = json!(def.timing.for_ms / 1000);
                    v["keepFiringFor"] = json!(def.timing.keep_firing_for_ms / 1000);
                    v["annotations"] = def
                        .annotations
                        .iter()
                        .map(|(k, raw, _)| (k.clone(), json!(raw)))
                        .collect::<serde_json::Map<_, _>>()
                        .into();
                    v["alerts"] = json!(alerts);
                    v["state"] = json!(state);
                    rules.push(v);
                }
                Rule::Record(def) if want != Some("alert") => {
                    rules.push(common("recording", &def.expr, &def.labels));
                }
                _ => {}
            }
        }
        groups.push(json!({
            "name": g.name,
            "file": "",
            "interval": g.interval_ms / 1000,
            "rules": rules,
        }));
    }
    ok(json!({ "groups": groups }))
}
