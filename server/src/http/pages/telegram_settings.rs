//! The Telegram settings page: link codes for `/subscribe` (any signed-in
//! user; stored hashed, one-time, an hour), and for admins the bot token
//! (checked with getMe, written to a 0600 file, used at once), a test
//! message, and unlinking chats. Every form is CSRF-checked and audited.

use super::authn::CurrentUser;
use super::guard::{actor, form_guard, on_page, Shown};
use super::ui::{render, Page};
use super::AppState;
use crate::ops::{self, OpError};
use crate::storage::Role;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::telegram as page;
use std::collections::HashMap;

async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    notice: Option<String>,
    code: Option<(String, String)>,
    error: Option<FormError>,
) -> Response {
    let links = match s.0.store.chat_links().await {
        Ok(l) => l,
        Err(e) => return super::storage_error(e),
    };
    let mut names: HashMap<i64, String> = HashMap::new();
    if let Ok(users) = s.0.store.list_users().await {
        names.extend(users.into_iter().map(|u| (u.id, u.username)));
    }
    let tg = s.0.telegram.as_ref();
    let token_source = tg.and_then(|t| {
        t.slot.get().map(|_| {
            if t.from_config {
                "configured by flag or environment".to_string()
            } else {
                "set on this page".to_string()
            }
        })
    });
    let is_admin = u.role == Role::Admin;
    let data = page::Data {
        token_source,
        token_editable: tg.is_some_and(|t| !t.from_config),
        links: links
            .into_iter()
            // Non-admins see only the chats they linked.
            .filter(|l| is_admin || l.user_id == u.id)
            .map(|l| page::Link {
                chat_id: l.chat_id,
                user: names.get(&l.user_id).cloned().unwrap_or_default(),
                channel: l.channel,
                created_ms: l.created_ms,
            })
            .collect(),
        notice,
        code,
        is_admin,
        error,
    };
    let body = Box::new(move |ctx: &dozor_ui::Ctx| page::body(ctx, data));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Telegram".into(), "telegram", body),
    )
    .await
}

pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
) -> Response {
    show(s, headers, u, None, None, None).await
}

/// The page with a refused operation's message (under `field` when it is
/// about the form's one field), or its answer.
async fn refused(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    e: OpError,
    field: Option<&'static str>,
    prefix: &str,
) -> Response {
    match on_page(e) {
        Shown::Answer(r) => r,
        Shown::Notice(n) => {
            let message = format!("{prefix}{n}");
            let error = FormError::new(field, message);
            show(s, headers, u, None, None, Some(error)).await
        }
    }
}

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn new_code(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Viewer) {
        return refused;
    }
    let channel = f
        .get("channel")
        .map(|c| c.trim())
        .unwrap_or("default")
        .to_string();
    match ops::telegram::new_link_code(&s.0.ops, &actor(&u, None), &channel).await {
        Ok(code) => show(s, headers, u, None, Some((code, channel)), None).await,
        Err(e) => refused(s, headers, u, e, Some("channel"), "").await,
    }
}

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn set_token(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let token = f.get("token").map(|t| t.trim()).unwrap_or("");
    match ops::telegram::set_bot_token(&s.0.ops, &actor(&u, None), token).await {
        Ok(name) => {
            let notice = format!("Token saved: the bot is @{name}.");
            show(s, headers, u, Some(notice), None, None).await
        }
        // Set by flag or environment: there is no token field to show it under.
        Err(e @ OpError::Conflict(_)) => refused(s, headers, u, e, None, "").await,
        Err(e) => refused(s, headers, u, e, Some("token"), "Token not saved: ").await,
    }
}

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn test_send(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let chat = f.get("chat").map(|c| c.trim()).unwrap_or("");
    match ops::telegram::test_message(&s.0.ops, &actor(&u, None), chat).await {
        Ok(id) => {
            let notice = format!("Test message sent to {id}.");
            show(s, headers, u, Some(notice), None, None).await
        }
        Err(e) => refused(s, headers, u, e, Some("chat"), "").await,
    }
}

#[tracing::instrument(skip_all, fields(user = %u.name, chat))]
pub async fn unlink(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Path(chat): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let notice = match ops::telegram::unlink_chat(&s.0.ops, Some(&actor(&u, None)), chat).await {
        Ok(0) => "That chat was not linked.".to_string(),
        Ok(n) => format!("Chat {chat} unlinked from {n} channel(s)."),
        Err(e) => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => {
                let error = FormError::general(n);
                return show(s, headers, u, None, None, Some(error)).await;
            }
        },
    };
    show(s, headers, u, Some(notice), None, None).await
}
