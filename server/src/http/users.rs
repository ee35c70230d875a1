//! User administration (admin only): create, set role, reset password,
//! disable and enable; every change revokes the user's sessions (storage
//! does it in the same transaction) and is audited. The last active admin
//! cannot be demoted or disabled.

use super::login::CurrentUser;
use super::ui::{render, Page};
use super::ui_agents::{admin_form, admin_only};
use super::AppState;
use crate::auth::password;
use crate::storage::Role;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
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
pub(super) async fn show(
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

/// True when `id` is the only enabled admin.
async fn last_admin(s: &AppState, id: i64) -> bool {
    let users = s.0.store.list_users().await.unwrap_or_default();
    !users
        .iter()
        .any(|u| u.id != id && u.role == Role::Admin && !u.disabled)
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
    let role = f.get("role").and_then(|r| Role::parse(r));
    let notice = if let Some(problem) = super::login::new_account_problem(name, pw) {
        problem
    } else if let Some(role) = role {
        match s
            .0
            .store
            .create_user(
                name,
                &password::hash_off_thread(pw).await,
                role,
                false,
                super::now_ms(),
            )
            .await
        {
            Ok(Some(_)) => {
                super::login::audit(&s, &u.name, "user.create", Some(name), None).await;
                format!("Created {name} ({}).", role.as_str())
            }
            Ok(None) => format!("A user named {name} exists."),
            Err(e) => return super::storage_error(e),
        }
    } else {
        "Pick a role.".to_string()
    };
    show(s, headers, u, Some(notice)).await
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
    let target = match s.0.store.user_by_id(id).await {
        Ok(Some(t)) => t,
        Ok(None) => return show(s, headers, u, Some("No such user.".into())).await,
        Err(e) => return super::storage_error(e),
    };
    let now = super::now_ms();
    let (pw_hash, role, disabled, verb) = match action.as_str() {
        "role" => match f.get("role").and_then(|r| Role::parse(r)) {
            Some(r)
                if r < Role::Admin && target.role == Role::Admin && last_admin(&s, id).await =>
            {
                return show(
                    s,
                    headers,
                    u,
                    Some("The last admin cannot be demoted.".into()),
                )
                .await;
            }
            Some(r) => (None, Some(r), None, "user.role"),
            None => return show(s, headers, u, Some("Pick a role.".into())).await,
        },
        "password" => {
            let pw = f.get("password").map(String::as_str).unwrap_or("");
            if let Err(e) = password::check_policy(pw) {
                return show(s, headers, u, Some(format!("{e}."))).await;
            }
            (
                Some(password::hash_off_thread(pw).await),
                None,
                None,
                "user.password",
            )
        }
        "disable" if target.role == Role::Admin && last_admin(&s, id).await => {
            return show(
                s,
                headers,
                u,
                Some("The last admin cannot be disabled.".into()),
            )
            .await;
        }
        "disable" => (None, None, Some(true), "user.disable"),
        "enable" => (None, None, Some(false), "user.enable"),
        _ => return show(s, headers, u, Some("Unknown action.".into())).await,
    };
    if let Err(e) =
        s.0.store
            .update_user(id, pw_hash.as_deref(), role, disabled, now)
            .await
    {
        return super::storage_error(e);
    }
    super::login::audit(&s, &u.name, verb, Some(&target.username), None).await;
    let notice = format!("{}: done; their sessions were ended.", target.username);
    show(s, headers, u, Some(notice)).await
}
