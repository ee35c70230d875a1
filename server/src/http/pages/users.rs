//! User administration (admin only): create, set role, reset password,
//! disable and enable; every change revokes the user's sessions (storage
//! does it in the same transaction) and is audited. The last active admin
//! cannot be demoted or disabled.

use super::guard::{actor, on_page, Shown};
use super::login::CurrentUser;
use super::ui::{render, Page};
use super::ui_agents::{admin_form, admin_only};
use super::AppState;
use crate::ops::{self, users::Change, OpError};
use crate::storage::Role;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::users::{self as pages, Outcome};
use std::collections::HashMap;
use tracing::instrument;

type Fields = Form<HashMap<String, String>>;

pub async fn users_page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
) -> Response {
    show(s, headers, u, None).await
}

/// The users page (admin only), with the outcome of the last action.
pub(crate) async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    outcome: impl Into<Outcome>,
) -> Response {
    if u.role < Role::Admin {
        return admin_only();
    }
    let outcome = outcome.into();
    let users = match s.0.store.list_users().await {
        Ok(u) => u,
        Err(e) => return super::storage_error(e),
    };
    let invites = match s.0.store.pending_invites(s.0.auth.now_ms()).await {
        Ok(i) => i,
        Err(e) => return super::storage_error(e),
    };
    let rows = users
        .into_iter()
        .map(|u| pages::UserRow {
            id: u.id,
            name: u.username,
            role: u.role.as_str().into(),
            disabled: u.disabled,
            created_ms: u.created_ms,
        })
        .collect();
    let invites = invites
        .into_iter()
        .map(|i| pages::InviteRow {
            id: i.id,
            role: i.role.as_str().into(),
            created_by: i.created_by,
            expires_ms: i.expires_ms,
        })
        .collect();
    let body = Box::new(move |ctx: &dozor_ui::Ctx| pages::body(ctx, rows, invites, outcome));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Users".into(), "users", body),
    )
    .await
}

pub async fn audit_page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
) -> Response {
    if u.role < Role::Admin {
        return admin_only();
    }
    let log = match s.0.store.audit_log(500).await {
        Ok(l) => l,
        Err(e) => return super::storage_error(e),
    };
    let rows = log
        .into_iter()
        .map(|e| pages::AuditRow {
            ts_ms: e.ts_ms,
            actor: e.actor,
            action: e.action,
            target: e.target,
            ip: e.ip,
        })
        .collect();
    let body = Box::new(move |_: &dozor_ui::Ctx| pages::audit(rows));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Audit".into(), "audit", body),
    )
    .await
}

#[instrument(skip_all)]
pub async fn create(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Fields,
) -> Response {
    if let Some(refused) = admin_form(&headers, &f, &u) {
        return refused;
    }
    let name = f.get("username").map(|n| n.trim()).unwrap_or("");
    let pw = f.get("password").map(String::as_str).unwrap_or("");
    let refused = |error: FormError| Outcome {
        error: Some(error),
        draft: Some((name.to_string(), f.get("role").cloned().unwrap_or_default())),
        ..Outcome::default()
    };
    let Some(role) = f.get("role").and_then(|r| Role::parse(r)) else {
        let outcome = refused(FormError::field("role", "Pick a role."));
        return show(s, headers, u, outcome).await;
    };
    let outcome = match ops::users::create(&s.0.ops, &actor(&u, None), name, pw, role).await {
        Ok(_) => Outcome::from(Some(format!("Created {name} ({}).", role.as_str()))),
        Err(e) => {
            let field = account_field(&e, pw);
            match on_page(e) {
                Shown::Answer(r) => return r,
                Shown::Notice(n) => refused(FormError::new(field, n)),
            }
        }
    };
    show(s, headers, u, outcome).await
}

/// Which field of a new account's form (username, password) a refusal is
/// about: the password when its policy gives that message, else the name.
pub(crate) fn account_field(e: &OpError, pw: &str) -> Option<&'static str> {
    match e {
        OpError::Conflict(_) => Some("username"),
        OpError::Invalid(m) => {
            let policy = crate::auth::password::check_policy(pw)
                .err()
                .map(|e| format!("{e}."));
            Some(if policy.as_deref() == Some(m.as_str()) {
                "password"
            } else {
                "username"
            })
        }
        _ => None,
    }
}

/// `action` is role, password, disable or enable.
#[instrument(skip_all, fields(user = id, action = %action))]
pub async fn change(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(f): Fields,
) -> Response {
    if let Some(refused) = admin_form(&headers, &f, &u) {
        return refused;
    }
    let change = match action.as_str() {
        "role" => match f.get("role").and_then(|r| Role::parse(r)) {
            Some(r) => Change::Role(r),
            None => return show(s, headers, u, Some("Pick a role.".into())).await,
        },
        "password" => Change::Password(f.get("password").cloned().unwrap_or_default()),
        "disable" => Change::Disable,
        "enable" => Change::Enable,
        _ => return show(s, headers, u, Some("Unknown action.".into())).await,
    };
    let name = match s.0.store.user_by_id(id).await {
        Ok(Some(t)) => t.username,
        Ok(None) => String::new(),
        Err(e) => return super::storage_error(e),
    };
    let outcome = match ops::users::change(&s.0.ops, &actor(&u, None), id, change).await {
        Ok(()) => Outcome::from(Some(format!("{name}: done; their sessions were ended."))),
        Err(e) => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => Outcome {
                error: Some(FormError::general(n)),
                ..Outcome::default()
            },
        },
    };
    show(s, headers, u, outcome).await
}
