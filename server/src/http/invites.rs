//! Invitations: an admin makes a one-time link with a role and an expiry
//! (`/users/invite`); the invitee opens `/invite?token=…`, picks a name and
//! password and is signed in. Only the token's hash is stored; accepting
//! is one transaction (`Invites::accept_invite`). Everything is audited.

use super::authn::{audit, CurrentUser};
use super::login::{html, new_account_problem, start_session, with_csrf};
use super::ui::{csrf_ok, forbidden};
use super::ui_agents::admin_form;
use super::users::show;
use super::AppState;
use crate::auth::{self, password};
use crate::storage::{Accepted, Role};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::pages::auth::{invite, invite_invalid};
use dozor_ui::pages::users::Outcome;
use std::collections::HashMap;
use std::net::SocketAddr;
use tracing::instrument;

pub const INVITE_PREFIX: &str = "dzi_";
type Fields = Form<HashMap<String, String>>;

#[instrument(skip_all, fields(admin = %u.name))]
pub async fn create(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Fields,
) -> Response {
    if let Some(refused) = admin_form(&headers, &f, &u) {
        return refused;
    }
    let Some(role) = f.get("role").and_then(|r| Role::parse(r)) else {
        return show(s, headers, u, Some("Pick a role.".to_string())).await;
    };
    let hours = match f.get("hours").map(|h| h.trim()).filter(|h| !h.is_empty()) {
        None => 72,
        Some(h) => match h.parse::<i64>() {
            Ok(n) if (1..=720).contains(&n) => n,
            _ => {
                let msg = "Expiry is a whole number of hours from 1 to 720.".to_string();
                return show(s, headers, u, Some(msg)).await;
            }
        },
    };
    let now = s.0.auth.now_ms();
    let token = auth::generate(INVITE_PREFIX);
    let hash = auth::hash_secret(&token);
    let made =
        s.0.store
            .create_invite(&hash, role, &u.name, now, now + hours * 3_600_000)
            .await;
    if let Err(e) = made {
        return super::storage_error(e);
    }
    audit(
        &s,
        &u.name,
        "invite.create",
        Some(role.as_str()),
        Some(peer.ip()),
    )
    .await;
    let base = super::ui::base_url(&headers);
    let outcome = Outcome {
        notice: Some(format!(
            "Invitation for a new {} created; it expires in {hours} h.",
            role.as_str()
        )),
        invite_link: Some(format!("{base}/invite?token={token}")),
    };
    show(s, headers, u, outcome).await
}

#[instrument(skip_all, fields(admin = %u.name, id))]
pub async fn revoke(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Fields,
) -> Response {
    if let Some(refused) = admin_form(&headers, &f, &u) {
        return refused;
    }
    let notice = match s.0.store.revoke_invite(id, s.0.auth.now_ms()).await {
        Ok(true) => {
            audit(
                &s,
                &u.name,
                "invite.revoke",
                Some(&format!("#{id}")),
                Some(peer.ip()),
            )
            .await;
            "Invitation revoked."
        }
        Ok(false) => "No such pending invitation.",
        Err(e) => return super::storage_error(e),
    };
    show(s, headers, u, Some(notice.to_string())).await
}

fn invalid() -> Response {
    html(StatusCode::FORBIDDEN, invite_invalid())
}

pub async fn page(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = q.get("token").cloned().unwrap_or_default();
    let hash = auth::hash_secret(&token);
    match s.0.store.open_invite(&hash, s.0.auth.now_ms()).await {
        Ok(Some(inv)) => with_csrf(
            &headers,
            |t| invite(t, &token, inv.role.as_str(), None),
            StatusCode::OK,
        ),
        Ok(None) => invalid(),
        Err(e) => super::storage_error(e),
    }
}

#[instrument(skip_all)]
pub async fn accept(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Fields,
) -> Response {
    if !csrf_ok(&headers, &f) {
        return forbidden();
    }
    let token = f.get("token").cloned().unwrap_or_default();
    let hash = auth::hash_secret(&token);
    let now = s.0.auth.now_ms();
    let inv = match s.0.store.open_invite(&hash, now).await {
        Ok(Some(inv)) => inv,
        Ok(None) => return invalid(),
        Err(e) => return super::storage_error(e),
    };
    let username = f.get("username").map(|u| u.trim()).unwrap_or("");
    let pw = f.get("password").map(String::as_str).unwrap_or("");
    let retry = |msg: &str| {
        with_csrf(
            &headers,
            |t| invite(t, &token, inv.role.as_str(), Some(msg)),
            StatusCode::BAD_REQUEST,
        )
    };
    if let Some(p) = new_account_problem(username, pw) {
        return retry(&p);
    }
    match s
        .0
        .store
        .accept_invite(&hash, username, &password::hash_off_thread(pw).await, now)
        .await
    {
        Ok(Accepted::Created(id, role)) => {
            let target = format!("{username} ({})", role.as_str());
            audit(
                &s,
                username,
                "invite.accept",
                Some(&target),
                Some(peer.ip()),
            )
            .await;
            start_session(&s, &headers, id, "/").await
        }
        Ok(Accepted::NameTaken) => retry("That username is taken; choose another."),
        Ok(Accepted::Invalid) => invalid(),
        Err(e) => super::storage_error(e),
    }
}
