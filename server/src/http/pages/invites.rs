//! Invitations: an admin makes a one-time link with a role and an expiry
//! (`/users/invite`); the invitee opens `/invite?token=…`, picks a name and
//! password and is signed in. Only the token's hash is stored; accepting
//! is one transaction (`Invites::accept_invite`). Everything is audited.

use super::authn::CurrentUser;
use super::guard::{actor, on_page, Shown};
use super::login::{html, start_session, with_csrf};
use super::ui::{csrf_ok, forbidden};
use super::ui_agents::admin_form;
use super::users::show;
use super::AppState;
use crate::auth;
use crate::ops::{self, Actor, OpError};
use crate::storage::Role;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::auth::{invite, invite_invalid};
use dozor_ui::pages::users::Outcome;
use std::collections::HashMap;
use std::net::SocketAddr;
use tracing::instrument;

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
    let refused = |error: FormError| Outcome {
        error: Some(error),
        ..Outcome::default()
    };
    let Some(role) = f.get("role").and_then(|r| Role::parse(r)) else {
        let outcome = refused(FormError::field("invite_role", "Pick a role."));
        return show(s, headers, u, outcome).await;
    };
    let hours = f
        .get("hours")
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .map(|h| h.parse::<i64>().unwrap_or(0));
    let made = ops::users::invite(&s.0.ops, &actor(&u, Some(peer.ip())), role, hours).await;
    let token = match made {
        Ok(t) => t,
        Err(e) => {
            // Only the expiry is checked besides the role, parsed above.
            let field = matches!(e, OpError::Invalid(_)).then_some("hours");
            return match on_page(e) {
                Shown::Answer(r) => r,
                Shown::Notice(n) => {
                    let error = FormError::new(field, n);
                    show(s, headers, u, refused(error)).await
                }
            };
        }
    };
    let base = super::ui::base_url(&headers);
    let outcome = Outcome {
        notice: Some(format!(
            "Invitation for a new {} created; it expires in {} h.",
            role.as_str(),
            hours.unwrap_or(72)
        )),
        invite_link: Some(format!("{base}/invite?token={token}")),
        ..Outcome::default()
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
    let notice = match ops::users::revoke_invite(&s.0.ops, &actor(&u, Some(peer.ip())), id).await {
        Ok(()) => "Invitation revoked.".to_string(),
        Err(e) => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => n,
        },
    };
    show(s, headers, u, Some(notice)).await
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
    let inv = match s
        .0
        .store
        .open_invite(&auth::hash_secret(&token), s.0.auth.now_ms())
        .await
    {
        Ok(Some(inv)) => inv,
        Ok(None) => return invalid(),
        Err(e) => return super::storage_error(e),
    };
    let username = f.get("username").map(|u| u.trim()).unwrap_or("");
    let pw = f.get("password").map(String::as_str).unwrap_or("");
    let who = Actor::anonymous(username, Some(peer.ip()));
    match ops::users::accept_invite(&s.0.ops, &who, &token, username, pw).await {
        Ok((id, _)) => start_session(&s, &headers, id, "/").await,
        Err(OpError::NotFound(_)) => invalid(),
        Err(e) => {
            let field = super::users::account_field(&e, pw);
            match on_page(e) {
                Shown::Answer(r) => r,
                Shown::Notice(n) => {
                    let error = FormError::new(field, n);
                    with_csrf(
                        &headers,
                        |t| invite(t, &token, inv.role.as_str(), Some(&error)),
                        StatusCode::BAD_REQUEST,
                    )
                }
            }
        }
    }
}
