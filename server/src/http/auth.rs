//! Who is asking: sign-in, sign-out, the first admin's setup link,
//! accepting an invitation, sessions, API tokens, CSRF and the form guard.

pub mod authn;
pub(crate) mod guard;
pub mod login;
pub(crate) mod throttle;

pub(crate) use super::pages::{invites, ui};
pub(crate) use super::{error, storage_error, AppState, Paths, FORM_BODY_LIMIT};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

/// The routes anyone may reach: sign-in, sign-out, setup, invitations.
pub(super) fn routes(t: &Paths) -> Router<AppState> {
    let form_limit = || DefaultBodyLimit::max(FORM_BODY_LIMIT);
    Router::new()
        .route(
            t.add("/login"),
            get(login::login_page)
                .post(login::login_submit)
                .layer(form_limit()),
        )
        .route(t.add("/logout"), post(login::logout).layer(form_limit()))
        .route(
            t.add("/setup"),
            get(login::setup_page)
                .post(login::setup_submit)
                .layer(form_limit()),
        )
        .route(
            t.add("/invite"),
            get(invites::page).post(invites::accept).layer(form_limit()),
        )
}
