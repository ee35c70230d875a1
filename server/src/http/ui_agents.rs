//! The agents page's forms: mint an enrolment token, revoke every token,
//! revoke an agent. Admin only, CSRF-checked.

use super::login::CurrentUser;
use super::ui::{render, Page};
use super::AppState;
use crate::auth;
use crate::storage::Role;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
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
    let token = auth::generate(auth::ENROLL_TOKEN_PREFIX);
    // Empty fields mean no limit; anything else must be a positive number.
    let positive = |k: &str| -> Result<Option<i64>, ()> {
        match form.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .map(Some)
                .ok_or(()),
        }
    };
    let (Ok(hours), Ok(uses)) = (positive("hours"), positive("uses")) else {
        let outcome = agents::Outcome {
            new_token: None,
            notice: Some(
                "Hours and uses must be whole numbers from 1, or empty for no limit.".into(),
            ),
        };
        return render(s, headers, None, u, Page::Agents(outcome)).await;
    };
    let now = super::now_ms();
    let expires = hours.map(|h| now + h * 3_600_000);
    if let Err(e) =
        s.0.store
            .create_enroll_token_limited(&auth::hash_secret(&token), now, expires, uses)
            .await
    {
        return super::storage_error(e);
    }
    tracing::info!("enrolment token created from the agents page");
    super::login::audit(&s, &u.name, "enroll_token.create", None, None).await;
    let outcome = agents::Outcome {
        new_token: Some(token),
        notice: None,
    };
    render(s, headers, None, u, Page::Agents(outcome)).await
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
    let n = match s.0.store.revoke_enroll_tokens(super::now_ms()).await {
        Ok(n) => n,
        Err(e) => return super::storage_error(e),
    };
    super::login::audit(
        &s,
        &u.name,
        "enroll_token.revoke_all",
        Some(&n.to_string()),
        None,
    )
    .await;
    let outcome = agents::Outcome {
        new_token: None,
        notice: Some(format!("Revoked {n} enrolment token(s).")),
    };
    render(s, headers, None, u, Page::Agents(outcome)).await
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
    let done = match s.0.store.revoke_agent(&name, super::now_ms()).await {
        Ok(d) => d,
        Err(e) => return super::storage_error(e),
    };
    if done {
        super::login::audit(&s, &u.name, "agent.revoke", Some(&name), None).await;
    }
    let notice = if done {
        format!("Revoked agent {name}; its next request is refused.")
    } else {
        format!("No live agent named {name}.")
    };
    let outcome = agents::Outcome {
        new_token: None,
        notice: Some(notice),
    };
    render(s, headers, None, u, Page::Agents(outcome)).await
}
