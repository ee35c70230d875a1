//! The signed-in user's own page: change password and manage API tokens.
//! Every POST is CSRF-checked and audited. Any role may hold tokens, up to
//! what the role allows; admins also see and may revoke everyone's.

use super::authn::CurrentUser;
use super::guard::{actor, on_page, Shown};
use super::ui::{csrf_ok, forbidden, render, Page};
use super::AppState;
use crate::ops::{self, OpError};
use crate::storage::{Role, Scope};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::account::{self, Outcome, TokenRow};
use std::collections::HashMap;
use std::net::SocketAddr;
use tracing::instrument;

type Fields = Form<HashMap<String, String>>;

const SCOPES: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

async fn show(s: AppState, headers: HeaderMap, u: CurrentUser, outcome: Outcome) -> Response {
    let admin = u.role == Role::Admin;
    let listed = s.0.store.list_api_tokens((!admin).then_some(u.id)).await;
    let tokens = match listed {
        Ok(t) => t,
        Err(e) => return super::storage_error(e),
    };
    let now = s.0.auth.now_ms();
    let rows: Vec<TokenRow> = tokens
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            expired: t.expires_ms.is_some_and(|e| e <= now),
            owner: t.username,
            name: t.name,
            scope: t.scope.cap(t.user_role).as_str().into(),
            created_ms: t.created_ms,
            expires_ms: t.expires_ms,
            last_used_ms: t.last_used_ms,
            revoked: t.revoked_ms.is_some(),
        })
        .collect();
    let allowed: Vec<&'static str> = SCOPES
        .iter()
        .filter(|sc| **sc <= Scope::for_role(u.role))
        .map(|sc| sc.as_str())
        .collect();
    let body =
        Box::new(move |ctx: &dozor_ui::Ctx| account::body(ctx, outcome, rows, &allowed, admin));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Account".into(), "account", body),
    )
    .await
}

pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = q
        .contains_key("password-changed")
        .then(|| "Password changed; your other sessions are signed out.".to_string());
    show(
        s,
        headers,
        u,
        Outcome {
            notice,
            ..Outcome::default()
        },
    )
    .await
}

fn notice(text: impl Into<String>) -> Outcome {
    Outcome {
        notice: Some(text.into()),
        ..Outcome::default()
    }
}

/// The account page with a refused operation's message (under `field`
/// when it is about one), or its answer.
async fn refused(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    e: OpError,
    field: Option<&'static str>,
    draft: Option<(String, String, String)>,
) -> Response {
    match on_page(e) {
        Shown::Answer(r) => r,
        Shown::Notice(n) => {
            let error = FormError::new(field, n);
            let outcome = Outcome {
                error: Some(error),
                draft,
                ..Outcome::default()
            };
            show(s, headers, u, outcome).await
        }
    }
}

/// Which field a refused password change is about: the new password when
/// it fails the policy or repeats the current one, else the current one.
fn password_field(current: &str, new: &str, message: &str) -> &'static str {
    let policy = crate::auth::password::check_policy(new)
        .err()
        .map(|e| format!("{e}."));
    if policy.as_deref() == Some(message) || new == current {
        "password"
    } else {
        "current"
    }
}

#[instrument(skip_all, fields(user = %u.name))]
pub async fn change_password(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Fields,
) -> Response {
    if !csrf_ok(&headers, &f) {
        return forbidden();
    }
    let current = f.get("current").map(String::as_str).unwrap_or("");
    let new = f.get("password").map(String::as_str).unwrap_or("");
    let who = actor(&u, Some(peer.ip()));
    // Every session of this user ends, this one included; a fresh session
    // keeps this browser signed in.
    match ops::users::change_own_password(&s.0.ops, &who, current, new).await {
        Ok(()) => {
            super::login::start_session(&s, &headers, u.id, "/account?password-changed").await
        }
        Err(e) => {
            let field = password_field(current, new, &e.to_string());
            refused(s, headers, u, e, Some(field), None).await
        }
    }
}

#[instrument(skip_all, fields(user = %u.name))]
pub async fn create_token(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Fields,
) -> Response {
    if !csrf_ok(&headers, &f) {
        return forbidden();
    }
    let name = f.get("name").map(|n| n.trim()).unwrap_or("");
    let draft = Some((
        name.to_string(),
        f.get("scope").cloned().unwrap_or_default(),
        f.get("expires_days").cloned().unwrap_or_default(),
    ));
    let invalid = |field, message: &str| Outcome {
        error: Some(FormError::field(field, message)),
        draft: draft.clone(),
        ..Outcome::default()
    };
    let Some(scope) = f.get("scope").and_then(|v| Scope::parse(v)) else {
        let outcome = invalid("scope", "Pick a scope: read, write or admin.");
        return show(s, headers, u, outcome).await;
    };
    let days = f
        .get("expires_days")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| match v.parse::<u64>() {
            Ok(d) if (1..=ops::tokens::MAX_EXPIRY_DAYS).contains(&d) => {
                Some(std::time::Duration::from_secs(d * 86_400))
            }
            _ => None,
        });
    let Some(days) = days.map_or(Some(None), |d| d.map(Some)) else {
        let msg = "Expiry is a whole number of days from 1 to 3650, or empty for never.";
        return show(s, headers, u, invalid("expires_days", msg)).await;
    };
    let who = actor(&u, Some(peer.ip()));
    match ops::tokens::create(&s.0.ops, &who, &u.name, name, scope, days).await {
        Ok(token) => {
            let outcome = Outcome {
                notice: Some(format!("Created the {} token {name}.", scope.as_str())),
                new_token: Some(token),
                ..Outcome::default()
            };
            show(s, headers, u, outcome).await
        }
        Err(e) => refused(s, headers, u, e, None, draft).await,
    }
}

#[instrument(skip_all, fields(user = %u.name, id))]
pub async fn revoke_token(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Fields,
) -> Response {
    if !csrf_ok(&headers, &f) {
        return forbidden();
    }
    match ops::tokens::revoke(&s.0.ops, &actor(&u, Some(peer.ip())), id).await {
        Ok(()) => show(s, headers, u, notice("Token revoked.")).await,
        Err(e) => refused(s, headers, u, e, None, None).await,
    }
}
