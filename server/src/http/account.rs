//! The signed-in user's own page: change password and manage API tokens.
//! Every POST is CSRF-checked and audited. Any role may hold tokens, up to
//! what the role allows; admins also see and may revoke everyone's.

use super::authn::{audit, CurrentUser, API_TOKEN_PREFIX};
use super::ui::{csrf_ok, forbidden, render, Page};
use super::AppState;
use crate::auth::{self, password};
use crate::storage::{Role, Scope};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
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
            new_token: None,
        },
    )
    .await
}

fn notice(text: impl Into<String>) -> Outcome {
    Outcome {
        notice: Some(text.into()),
        new_token: None,
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
    let user = match s.0.store.user_by_id(u.id).await {
        Ok(Some(user)) => user,
        Ok(None) => return forbidden(),
        Err(e) => return super::storage_error(e),
    };
    if !password::verify_off_thread(current, &user.password_hash).await {
        audit(
            &s,
            &u.name,
            "user.password.failure",
            Some(&u.name),
            Some(peer.ip()),
        )
        .await;
        return show(s, headers, u, notice("The current password is wrong.")).await;
    }
    if let Err(e) = password::check_policy(new) {
        return show(s, headers, u, notice(format!("{e}."))).await;
    }
    if new == current {
        return show(
            s,
            headers,
            u,
            notice("The new password is the current one."),
        )
        .await;
    }
    let now = s.0.auth.now_ms();
    // Revokes every session of this user, this one included, in the same
    // transaction; a fresh session keeps this browser signed in.
    if let Err(e) =
        s.0.store
            .update_user(
                u.id,
                Some(&password::hash_off_thread(new).await),
                None,
                None,
                now,
            )
            .await
    {
        return super::storage_error(e);
    }
    audit(&s, &u.name, "user.password", Some(&u.name), Some(peer.ip())).await;
    super::login::start_session(&s, &headers, u.id, "/account?password-changed").await
}

/// Days until expiry from the form: empty means never.
fn expiry(raw: Option<&String>, now_ms: i64) -> Result<Option<i64>, &'static str> {
    match raw.map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => Ok(Some(now_ms + d * 86_400_000)),
            _ => Err("Expiry is a whole number of days from 1 to 3650, or empty for never."),
        },
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
    let now = s.0.auth.now_ms();
    let name = f.get("name").map(|n| n.trim()).unwrap_or("");
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return show(
            s,
            headers,
            u,
            notice("Token names are 1–64 printable characters."),
        )
        .await;
    }
    let Some(scope) = f.get("scope").and_then(|v| Scope::parse(v)) else {
        return show(s, headers, u, notice("Pick a scope: read, write or admin.")).await;
    };
    if scope > Scope::for_role(u.role) {
        let msg = format!(
            "A {} cannot create {} tokens.",
            u.role.as_str(),
            scope.as_str()
        );
        return show(s, headers, u, notice(msg)).await;
    }
    let expires = match expiry(f.get("expires_days"), now) {
        Ok(e) => e,
        Err(m) => return show(s, headers, u, notice(m)).await,
    };
    let token = auth::generate(API_TOKEN_PREFIX);
    let hash = auth::hash_secret(&token);
    if let Err(e) =
        s.0.store
            .create_api_token(u.id, name, &hash, scope, now, expires)
            .await
    {
        return super::storage_error(e);
    }
    let target = format!("{name} ({})", scope.as_str());
    audit(&s, &u.name, "token.create", Some(&target), Some(peer.ip())).await;
    let outcome = Outcome {
        notice: Some(format!("Created the {} token {name}.", scope.as_str())),
        new_token: Some(token),
    };
    show(s, headers, u, outcome).await
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
    let owner = (u.role < Role::Admin).then_some(u.id);
    let now = s.0.auth.now_ms();
    match s.0.store.revoke_api_token(id, owner, now).await {
        Ok(true) => {
            audit(
                &s,
                &u.name,
                "token.revoke",
                Some(&format!("#{id}")),
                Some(peer.ip()),
            )
            .await;
            show(s, headers, u, notice("Token revoked.")).await
        }
        Ok(false) => show(s, headers, u, notice("No such active token of yours.")).await,
        Err(e) => super::storage_error(e),
    }
}
