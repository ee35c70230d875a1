//! The Alerts page: firing and pending alerts from the rule engine, and
//! the stored history of transitions (filter by rule and change).

use super::authn::CurrentUser;
use super::ui::{render, Page};
use super::AppState;
use crate::alerting::rules::Rule;
use crate::alerting::state::{Labels, State as AlertState};
use crate::alerting::template::format_value;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use dozor_ui::pages::alerts::{self, ActiveRow, HistoryRow};
use std::collections::HashMap;

fn pairs(l: &Labels) -> Vec<(String, String)> {
    l.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[tracing::instrument(skip_all)]
pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filter_rule = q.get("rule").filter(|r| !r.is_empty()).cloned();
    let filter_change = q.get("change").filter(|c| !c.is_empty()).cloned();
    let mut active = Vec::new();
    let mut rules = Vec::new();
    if let Some(a) = &s.0.alerting {
        let snapshot = a.snapshot().await;
        for g in &a.all_groups() {
            for r in &g.rules {
                let Rule::Alert(def) = r else { continue };
                if !rules.contains(&def.name) {
                    rules.push(def.name.clone());
                }
                for (labels, al) in snapshot.get(&def.key).into_iter().flatten() {
                    let summary = def
                        .annotations
                        .iter()
                        .find(|(k, _, _)| k == "summary")
                        .map(|(_, _, t)| t.render(labels, al.value))
                        .unwrap_or_default();
                    let matchers = crate::alerting::silence::for_labels(labels)
                        .iter()
                        .map(|m| m.to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    active.push(ActiveRow {
                        matchers: format!("{{{matchers}}}"),
                        rule: def.name.clone(),
                        state: if al.state == AlertState::Firing {
                            "firing"
                        } else {
                            "pending"
                        }
                        .into(),
                        severity: def.severity().into(),
                        labels: pairs(labels),
                        value: format_value(al.value),
                        since_ms: al.fired_at_ms.unwrap_or(al.active_at_ms),
                        summary,
                    });
                }
            }
        }
    }
    // Firing before pending, then newest first.
    active.sort_by(|a, b| a.state.cmp(&b.state).then(b.since_ms.cmp(&a.since_ms)));
    let stored = match s.0.store.alert_history(filter_rule.as_deref(), 500).await {
        Ok(h) => h,
        Err(e) => return super::storage_error(e),
    };
    let history = stored
        .into_iter()
        .filter(|h| filter_change.as_deref().is_none_or(|c| c == h.change))
        .map(|h| HistoryRow {
            ts_ms: h.ts_ms,
            labels: serde_json::from_str::<Labels>(&h.labels)
                .map(|l| pairs(&l))
                .unwrap_or_default(),
            rule: h.rule,
            change: h.change,
            severity: h.severity,
            value: h.value.map(format_value).unwrap_or_else(|| "NaN".into()),
        })
        .collect();
    let configured = s.0.alerting.is_some();
    let can_silence = u.role >= crate::storage::Role::Editor;
    let data = alerts::Data {
        active,
        history,
        rules,
        filter_rule,
        filter_change,
        configured,
        can_silence,
    };
    let body = Box::new(move |ctx: &dozor_ui::Ctx| alerts::body(ctx, data));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Alerts".into(), "alerts", body),
    )
    .await
}
