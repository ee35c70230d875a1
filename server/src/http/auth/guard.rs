//! The checks every state-changing form makes, in one place: the CSRF
//! token first (so a forged request learns nothing about roles), then the
//! least role the action needs; and how an operation's refusal is shown,
//! as a page for browsers or JSON for APIs (one place for both).

use super::authn::CurrentUser;
use super::ui::{csrf_ok, forbidden};
use crate::http::Problem;
use crate::ops::{Actor, OpError};
use crate::storage::Role;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

/// 403 saying who may do this.
/// A page re-rendered with a form's errors answers 400, so a script (and
/// a test) can tell a refused form from a shown one.
pub(crate) fn refused_if(mut page: Response, refused: bool) -> Response {
    if refused {
        *page.status_mut() = StatusCode::BAD_REQUEST;
    }
    page
}

pub(crate) fn role_forbidden(min: Role) -> Response {
    let who = match min {
        Role::Admin => "Only admins may do this.",
        _ => "Only editors and admins may do this.",
    };
    Problem::new(StatusCode::FORBIDDEN, who).page()
}

/// The refusal to send, if the form's CSRF token or the user's role
/// falls short.
pub(crate) fn form_guard(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    u: &CurrentUser,
    min: Role,
) -> Option<Response> {
    if !csrf_ok(headers, form) {
        return Some(forbidden());
    }
    (u.role < min).then(|| role_forbidden(min))
}

/// The actor of a signed-in page request.
pub(crate) fn actor(u: &CurrentUser, ip: Option<std::net::IpAddr>) -> Actor {
    Actor::web(u.id, &u.name, u.role, ip)
}

/// How a page shows a refused operation: most refusals are a notice on
/// the page the user came from; a role, a rate limit and storage trouble
/// are their own answers.
pub(crate) enum Shown {
    Notice(String),
    Answer(Response),
}

pub(crate) fn on_page(e: OpError) -> Shown {
    match e {
        OpError::Forbidden(r) => Shown::Answer(role_forbidden(r)),
        e @ (OpError::Storage(_) | OpError::Limited(..)) => Shown::Answer(Problem::from(e).page()),
        other => Shown::Notice(other.to_string()),
    }
}

/// A refused operation as JSON (`{"error": …}`) with its status.
pub(crate) fn as_json(e: OpError) -> Response {
    Problem::from(e).json()
}

/// A refused operation as a page of its own (when there is no page to
/// show a notice on).
pub(crate) fn as_page(e: OpError) -> Response {
    match e {
        OpError::Forbidden(r) => role_forbidden(r),
        e => Problem::from(e).page(),
    }
}
