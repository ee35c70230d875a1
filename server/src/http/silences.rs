//! Silences in the UI: list, create (editors and admins, CSRF-checked,
//! audited) and expire. The one-click "Silence 1h" on the Alerts page
//! posts here with the alert's exact labels.

use super::authn::{audit, CurrentUser};
use super::guard::form_guard;
use super::ui::{render, Page};
use super::AppState;
use crate::alerting::silence;
use crate::storage::{Role, SilenceRow};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::pages::silences as page;
use std::collections::HashMap;

/// Ended silences stay listed this long.
const SHOW_ENDED_MS: i64 = 86_400_000;

async fn show(s: AppState, headers: HeaderMap, u: CurrentUser, notice: Option<String>) -> Response {
    let now = s.0.auth.now_ms();
    let rows = match s.0.store.silences(now - SHOW_ENDED_MS).await {
        Ok(r) => r,
        Err(e) => return super::storage_error(e),
    };
    let snapshot = match &s.0.alerting {
        Some(a) => a.snapshot().await,
        None => Default::default(),
    };
    let rows = rows
        .into_iter()
        .map(|r| {
            let matchers = silence::from_json(&r.matchers).unwrap_or_default();
            let sil = silence::Silence {
                id: r.id,
                matchers: matchers.clone(),
                starts_ms: r.starts_ms,
                ends_ms: r.ends_ms,
            };
            let muting = snapshot
                .values()
                .flat_map(|m| m.keys())
                .filter(|labels| sil.mutes(labels, now))
                .count();
            page::SilenceRow {
                id: r.id,
                matchers: matchers
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                starts_ms: r.starts_ms,
                ends_ms: r.ends_ms,
                author: r.author,
                comment: r.comment,
                active: sil.active(now),
                muting,
            }
        })
        .collect();
    let can_edit = u.role >= Role::Editor;
    let body = Box::new(move |ctx: &dozor_ui::Ctx| page::body(ctx, rows, notice, can_edit));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Silences".into(), "silences", body),
    )
    .await
}

pub async fn list(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
) -> Response {
    show(s, headers, u, None).await
}

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn create(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let matchers = match silence::parse(f.get("matchers").map(String::as_str).unwrap_or("")) {
        Ok(m) => m,
        Err(e) => return show(s, headers, u, Some(format!("Not silenced: {e}"))).await,
    };
    let duration = f.get("duration").map(|d| d.trim()).unwrap_or("1h");
    let ms = match dozor_common::parse_duration(duration) {
        Ok(d) if d.as_secs() >= 60 && d.as_secs() <= 365 * 86_400 => d.as_millis() as i64,
        _ => {
            let msg = "Not silenced: the duration is 1m to 365d, e.g. 2h.".to_string();
            return show(s, headers, u, Some(msg)).await;
        }
    };
    let comment = f.get("comment").map(|c| c.trim()).unwrap_or("");
    if comment.is_empty() || comment.chars().count() > 500 {
        let msg = "Not silenced: say why, in up to 500 characters.".to_string();
        return show(s, headers, u, Some(msg)).await;
    }
    let now = s.0.auth.now_ms();
    let row = SilenceRow {
        id: 0,
        matchers: silence::to_json(&matchers),
        starts_ms: now,
        ends_ms: now + ms,
        author: u.name.clone(),
        comment: comment.to_string(),
        created_ms: now,
    };
    if let Err(e) = s.0.store.create_silence(&row).await {
        return super::storage_error(e);
    }
    let text: Vec<String> = matchers.iter().map(|m| m.to_string()).collect();
    audit(&s, &u.name, "silence.create", Some(&text.join(", ")), None).await;
    show(s, headers, u, Some(format!("Silenced for {duration}."))).await
}

#[tracing::instrument(skip_all, fields(user = %u.name, id))]
pub async fn expire(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let notice = match s.0.store.expire_silence(id, s.0.auth.now_ms()).await {
        Ok(true) => {
            audit(&s, &u.name, "silence.expire", Some(&format!("#{id}")), None).await;
            "Silence expired."
        }
        Ok(false) => "No such active silence.",
        Err(e) => return super::storage_error(e),
    };
    show(s, headers, u, Some(notice.into())).await
}
