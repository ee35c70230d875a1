//! The agents page's forms: mint an enrolment token, revoke every token,
//! revoke an agent. Admin only, CSRF-checked.

use super::guard::{actor, on_page, Shown};
use super::login::CurrentUser;
use super::ui::{render, Page};
use super::AppState;
use crate::ops::{self, OpError};
use crate::storage::Role;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::agents;
use std::collections::HashMap;
use tracing::instrument;

/// The checks every admin form makes: the CSRF token, then the role.
pub(crate) fn admin_form(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    u: &CurrentUser,
) -> Option<Response> {
    super::guard::form_guard(headers, form, u, Role::Admin)
}

pub(crate) fn admin_only() -> Response {
    super::guard::role_forbidden(Role::Admin)
}

/// The agents page with an outcome: a notice, or a refusal's answer.
async fn shown(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    r: Result<agents::Outcome, OpError>,
) -> Response {
    let outcome = match r {
        Ok(o) => o,
        Err(e) => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => agents::Outcome {
                error: Some(FormError::general(n)),
                ..Default::default()
            },
        },
    };
    render(s, headers, None, u, Page::Agents(outcome)).await
}

#[instrument(skip_all)]
pub async fn new_enroll_token(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admin_form(&headers, &form, &u) {
        return refused;
    }
    let (hours, uses) = (
        form.get("hours").map(String::as_str),
        form.get("uses").map(String::as_str),
    );
    let limits = match ops::agents::TokenLimits::parse(hours, uses) {
        Ok(l) => l,
        Err(e) => {
            // Parsed one at a time, to put the message under the wrong one.
            let field = if ops::agents::TokenLimits::parse(hours, None).is_err() {
                "hours"
            } else {
                "uses"
            };
            let outcome = agents::Outcome {
                error: Some(FormError::field(field, e.to_string())),
                ..Default::default()
            };
            return render(s, headers, None, u, Page::Agents(outcome)).await;
        }
    };
    let made = ops::agents::new_enroll_token(&s.0.ops, &actor(&u, None), limits)
        .await
        .map(|token| agents::Outcome {
            new_token: Some(token),
            ..Default::default()
        });
    shown(s.clone(), headers, u, made).await
}

#[instrument(skip_all)]
pub async fn revoke_enroll_tokens(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admin_form(&headers, &form, &u) {
        return refused;
    }
    let done = ops::agents::revoke_enroll_tokens(&s.0.ops, &actor(&u, None))
        .await
        .map(|n| agents::Outcome {
            notice: Some(format!("Revoked {n} enrolment token(s).")),
            ..Default::default()
        });
    shown(s.clone(), headers, u, done).await
}

#[instrument(skip_all, fields(agent = %name))]
pub async fn revoke_agent(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admin_form(&headers, &form, &u) {
        return refused;
    }
    let notice = match ops::agents::revoke_agent(&s.0.ops, &actor(&u, None), &name).await {
        Ok(()) => format!("Revoked agent {name}; its next request is refused."),
        Err(OpError::NotFound(_)) => format!("No live agent named {name}."),
        Err(e) => return shown(s.clone(), headers, u, Err(e)).await,
    };
    let outcome = agents::Outcome {
        notice: Some(notice),
        ..Default::default()
    };
    render(s, headers, None, u, Page::Agents(outcome)).await
}
