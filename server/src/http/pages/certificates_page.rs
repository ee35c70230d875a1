//! The Certificates screen: parse, call `ops::certificates`, render.

use super::authn::CurrentUser;
use super::guard::{actor, form_guard, on_page, Shown};
use super::ui::{render, Page};
use super::AppState;
use crate::ops::{self, OpError};
use crate::storage::Role;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dozor_common::certs::{Acme, LETS_ENCRYPT, LETS_ENCRYPT_STAGING};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::certificates::{self as page, Row};
use std::collections::HashMap;
use tracing::instrument;

async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    notice: Option<String>,
    error: Option<FormError>,
) -> Response {
    let o = &s.0.ops;
    let (certs, services, acme) = match (
        ops::certificates::list(o).await,
        s.0.store.services(None).await,
        ops::certificates::acme(o).await,
    ) {
        (Ok(c), Ok(sv), Ok(a)) => (c, sv, a),
        (Err(e), ..) | (_, _, Err(e)) => return super::guard::as_page(e),
        (_, Err(e), _) => return super::storage_error(e),
    };
    let rows = certs
        .into_iter()
        .map(|c| Row {
            domains: services
                .iter()
                .find(|s| s.spec.name == c.service)
                .map(|s| s.spec.domains.clone())
                .unwrap_or_default(),
            service: c.service,
            host: c.host,
            source: c.source,
            revoked: c.revoke,
            report: c.report,
        })
        .collect();
    let failed = error.is_some();
    let data = page::Data {
        rows,
        services: services.into_iter().map(|s| s.spec.name).collect(),
        acme,
        can_edit: u.role >= Role::Editor,
        is_admin: u.role >= Role::Admin,
        now_s: o.now_ms() / 1000,
        notice,
        error,
    };
    let body: super::ui::BodyFn = Box::new(move |ctx| page::body(ctx, data));
    let page = render(
        s,
        headers,
        None,
        u,
        Page::Custom("Certificates".into(), "certificates", body),
    )
    .await;
    super::guard::refused_if(page, failed)
}

#[instrument(skip_all)]
pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = q.get("done").map(|what| match what.as_str() {
        "acme" => "ACME account saved.".to_string(),
        "upload" => "Installed on the service's host; it serves HTTPS now.".to_string(),
        _ => "Sent to the service's host; its status follows here within seconds.".to_string(),
    });
    show(s, headers, u, notice, None).await
}

/// A refusal as the page with the problem shown next to its field.
async fn refused(s: AppState, headers: HeaderMap, u: CurrentUser, e: OpError) -> Response {
    match e {
        OpError::Fields(fields) => {
            let e = fields
                .first()
                .map(|fe| FormError::new(Some(fe.field), fe.message.clone()));
            show(s, headers, u, None, e).await
        }
        e => match on_page(e) {
            Shown::Answer(r) => r,
            Shown::Notice(n) => show(s, headers, u, None, Some(FormError::general(n))).await,
        },
    }
}

fn text(f: &HashMap<String, String>, k: &str) -> String {
    f.get(k).map(|v| v.trim().to_string()).unwrap_or_default()
}

#[instrument(skip_all, fields(user = %u.name))]
pub async fn save_acme(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let directory = match text(&f, "preset").as_str() {
        p @ (LETS_ENCRYPT | LETS_ENCRYPT_STAGING) => p.to_string(),
        _ => text(&f, "directory"),
    };
    let a = Acme {
        directory,
        email: text(&f, "email"),
        extra_ca_pem: Some(text(&f, "extra_ca")).filter(|p| !p.is_empty()),
    };
    match ops::certificates::set_acme(&s.0.ops, &actor(&u, None), a).await {
        Ok(_) => Redirect::to("/certificates?done=acme").into_response(),
        Err(e) => refused(s, headers, u, e).await,
    }
}

/// Issue, the service chosen in the form.
#[instrument(skip_all, fields(user = %u.name))]
pub async fn issue(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let service = text(&f, "service");
    act_on(s, u, headers, &f, &service, "issue").await
}

/// Renew or revoke, from a certificate's row.
#[instrument(skip_all, fields(user = %u.name, service = %service))]
pub async fn act(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path((service, action)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    act_on(s, u, headers, &f, &service, &action).await
}

async fn act_on(
    s: AppState,
    u: CurrentUser,
    headers: HeaderMap,
    f: &HashMap<String, String>,
    service: &str,
    action: &str,
) -> Response {
    if let Some(refused) = form_guard(&headers, f, &u, Role::Editor) {
        return refused;
    }
    let (o, who) = (&s.0.ops, actor(&u, None));
    let r = match action {
        "issue" => ops::certificates::issue(o, &who, service).await,
        "renew" => ops::certificates::renew(o, &who, service).await,
        "revoke" => ops::certificates::revoke(o, &who, service).await,
        other => Err(OpError::NotFound(format!("no action {other:?}"))),
    };
    match r {
        Ok(_) => Redirect::to("/certificates?done=1").into_response(),
        Err(e) => refused(s, headers, u, e).await,
    }
}

#[instrument(skip_all, fields(user = %u.name))]
pub async fn upload(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let r = ops::certificates::upload(
        &s.0.ops,
        &actor(&u, None),
        &text(&f, "service"),
        &text(&f, "certificate"),
        &text(&f, "key"),
    )
    .await;
    match r {
        Ok(_) => Redirect::to("/certificates?done=upload").into_response(),
        Err(e) => refused(s, headers, u, e).await,
    }
}
