//! The checks every state-changing form makes, in one place: the CSRF
//! token first (so a forged request learns nothing about roles), then the
//! least role the action needs.

use super::authn::CurrentUser;
use super::ui::{csrf_ok, forbidden, secure};
use crate::storage::Role;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// 403 saying who may do this.
pub(crate) fn role_forbidden(min: Role) -> Response {
    let who = match min {
        Role::Admin => "Only admins may do this.\n",
        _ => "Only editors and admins may do this.\n",
    };
    secure(
        (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            who,
        )
            .into_response(),
    )
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
