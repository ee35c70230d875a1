//! Silences in the UI: list, create (editors and admins, CSRF-checked,
//! audited) and expire. The one-click "Silence 1h" on the Alerts page
//! posts here with the alert's exact labels.

use super::authn::CurrentUser;
use super::guard::{actor, form_guard, on_page, Shown};
use super::ui::{render, Page};
use super::AppState;
use crate::alerting::silence;
use crate::ops;
use crate::storage::Role;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::silences as page;
use std::collections::HashMap;

/// Ended silences stay listed this long.
const SHOW_ENDED_MS: i64 = 86_400_000;

async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    notice: Option<String>,
    draft: page::Draft,
) -> Response {
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
    let body = Box::new(move |ctx: &dozor_ui::Ctx| page::body(ctx, rows, notice, draft, can_edit));
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
    show(s, headers, u, None, page::Draft::default()).await
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
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let duration = match field("duration").trim() {
        "" => "1h",
        d => d,
    };
    let made = ops::silences::create(
        &s.0.ops,
        &actor(&u, None),
        field("matchers"),
        duration,
        field("comment"),
    )
    .await;
    let message = match made {
        Ok(_) => {
            let notice = format!("Silenced for {duration}.");
            return show(s, headers, u, Some(notice), page::Draft::default()).await;
        }
        Err(e) => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => format!("Not silenced: {n}."),
        },
    };
    // The form requires a comment and caps it, so a refusal is about the
    // duration when its own check says so, and otherwise the matchers.
    let duration_error = ops::silences::duration_ms(duration)
        .err()
        .map(|e| format!("Not silenced: {e}."));
    let at = if duration_error.as_deref() == Some(message.as_str()) {
        "duration"
    } else if field("comment").trim().is_empty() {
        "comment"
    } else {
        "matchers"
    };
    let draft = page::Draft {
        matchers: field("matchers").to_string(),
        duration: field("duration").to_string(),
        comment: field("comment").to_string(),
        error: Some(FormError::field(at, message)),
    };
    show(s, headers, u, None, draft).await
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
    let notice = match ops::silences::expire(&s.0.ops, &actor(&u, None), id).await {
        Ok(()) => "Silence expired.".to_string(),
        Err(e) => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => n,
        },
    };
    show(s, headers, u, Some(notice), page::Draft::default()).await
}
