//! The Error pages screen: the global set and each service's overrides,
//! edited by editors and admins (`ops::services::set_error_page`), and the
//! preview a sandboxed frame loads: the template alone, under a CSP that
//! runs no script and reaches nothing, never inside dozor's own pages.

use super::authn::CurrentUser;
use super::guard::{actor, form_guard, on_page, Shown};
use super::ui::{render, Page};
use super::AppState;
use crate::ops;
use crate::storage::Role;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use dozor_common::services::error_pages::{self, STATUSES};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::services::error_pages::{self as page, Status};
use std::collections::HashMap;
use tracing::instrument;

/// The template in force for `status` in a scope, and whether the scope
/// sets it itself.
async fn template(
    s: &AppState,
    service: Option<&str>,
    status: u16,
) -> crate::storage::Result<(String, bool)> {
    let pages = s.0.store.error_pages().await?;
    let find = |svc: &str| {
        pages
            .iter()
            .find(|p| p.service == svc && p.status == status)
            .map(|p| p.html.clone())
    };
    if let Some(svc) = service {
        if let Some(h) = find(svc) {
            return Ok((h, true));
        }
    }
    Ok(match find("") {
        Some(h) => (h, service.is_none()),
        None => (error_pages::default_page(status), false),
    })
}

async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    q: &HashMap<String, String>,
    notice: Option<String>,
    error: Option<FormError>,
) -> Response {
    let service = q.get("service").filter(|v| !v.is_empty()).cloned();
    let services: Vec<String> = match s.0.store.services(None).await {
        Ok(r) => r.into_iter().map(|r| r.spec.name).collect(),
        Err(e) => return super::storage_error(e),
    };
    if service.as_ref().is_some_and(|svc| !services.contains(svc)) {
        return super::Problem::new(StatusCode::NOT_FOUND, "no such service").page();
    }
    let mut statuses = Vec::new();
    for status in STATUSES {
        let custom = match template(&s, service.as_deref(), status).await {
            Ok((_, c)) => c,
            Err(e) => return super::storage_error(e),
        };
        statuses.push(Status {
            status,
            title: error_pages::title(status),
            custom,
        });
    }
    let editing = match q.get("status").and_then(|v| v.parse::<u16>().ok()) {
        Some(st) if STATUSES.contains(&st) => match template(&s, service.as_deref(), st).await {
            Ok((html, _)) => Some((st, q.get("html").cloned().unwrap_or(html))),
            Err(e) => return super::storage_error(e),
        },
        _ => None,
    };
    let failed = error.is_some();
    let data = page::Data {
        service,
        services,
        statuses,
        editing,
        can_edit: u.role >= Role::Editor,
        notice,
        error,
    };
    let body: super::ui::BodyFn = Box::new(move |ctx| page::body(ctx, data));
    let page = render(
        s,
        headers,
        None,
        u,
        Page::Custom("Error pages".into(), "error-pages", body),
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
    show(s, headers, u, &q, None, None).await
}

#[instrument(skip_all, fields(user = %u.name))]
pub async fn save(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let service = f.get("service").filter(|v| !v.is_empty()).cloned();
    let Some(status) = f.get("status").and_then(|v| v.parse::<u16>().ok()) else {
        return show(
            s,
            headers,
            u,
            &f,
            None,
            Some(FormError::general("Which status?")),
        )
        .await;
    };
    let reset = f.get("do").is_some_and(|v| v == "reset");
    let html = (!reset).then(|| f.get("html").cloned().unwrap_or_default());
    let r = ops::services::set_error_page(
        &s.0.ops,
        &actor(&u, None),
        service.as_deref(),
        status,
        html.as_deref(),
    )
    .await;
    let mut q = HashMap::new();
    if let Some(svc) = &service {
        q.insert("service".to_string(), svc.clone());
    }
    q.insert("status".to_string(), status.to_string());
    match r {
        Ok(()) => {
            let n = if reset {
                "Back to the default page."
            } else {
                "Saved; hosts serve it once they have the change."
            };
            show(s, headers, u, &q, Some(n.into()), None).await
        }
        Err(ops::OpError::Fields(fields)) => {
            let fe = fields.first().cloned();
            if let Some(h) = &html {
                q.insert("html".into(), h.clone());
            }
            let e = fe.map(|fe| FormError::new(Some(fe.field), fe.message));
            show(s, headers, u, &q, None, e).await
        }
        Err(e) => match on_page(e) {
            Shown::Answer(r) => r,
            Shown::Notice(n) => show(s, headers, u, &q, None, Some(FormError::general(n))).await,
        },
    }
}

/// The CSP of a preview: no script, nothing fetched but inline styles and
/// data images, framed only by dozor's own pages, and sandboxed even when
/// opened on its own.
const PREVIEW_CSP: &str =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";

#[instrument(skip_all)]
pub async fn preview(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let service = q.get("service").filter(|v| !v.is_empty()).cloned();
    let Some(status) = q
        .get("status")
        .and_then(|v| v.parse::<u16>().ok())
        .filter(|st| STATUSES.contains(st))
    else {
        return super::Problem::new(StatusCode::NOT_FOUND, "no such page").page();
    };
    let html = match template(&s, service.as_deref(), status).await {
        Ok((h, _)) => h.replace(error_pages::REQUEST_ID, "0123456789abcdef0123456789abcdef"),
        Err(e) => return super::storage_error(e),
    };
    let mut r = (StatusCode::OK, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PREVIEW_CSP),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
