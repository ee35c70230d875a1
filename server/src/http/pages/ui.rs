//! Dashboard routes: pages rendered by `dozor-ui`, embedded assets, and
//! the agents page's forms. Every HTML response carries a strict CSP (no
//! inline script or style) and framing, sniffing and referrer headers.
//! Forms use a double-submit CSRF token: a random cookie (SameSite=Strict,
//! HttpOnly) that each POST must echo in a hidden field, plus an Origin
//! check when the browser sends one.

use super::guard::actor;
use super::login::CurrentUser;
use super::ui_source::{LabelCache, Source};
use super::AppState;
use crate::auth;
use crate::ops;
use crate::storage::Role;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use dozor_ui::dashboards::Dashboard;
use dozor_ui::pages::getting_started::GettingStarted;
use dozor_ui::pages::{agents, container, containers, dashboard, explore, host, overview};
use dozor_ui::{document, Ctx, DataSource, ViewState};
use std::collections::HashMap;
use tracing::instrument;

pub struct UiState {
    pub dashboards: Vec<Dashboard>,
    pub labels: LabelCache,
    pub ranges: crate::query_cache::RangeCache,
    /// The collection interval: charts never step finer than this.
    pub scrape_ms: i64,
}

impl Default for UiState {
    fn default() -> Self {
        let (dashboards, errors) = dozor_ui::dashboards::load_all(None);
        for e in errors {
            tracing::error!(error = %e, "built-in dashboard is invalid");
        }
        Self {
            dashboards,
            labels: LabelCache::default(),
            ranges: Default::default(),
            scrape_ms: 10_000,
        }
    }
}

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
pub(crate) const CSRF_COOKIE: &str = "dozor_csrf";

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Scheme and host the browser used (for the copyable agent commands).
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{proto}://{host}")
}

pub(crate) fn csrf_cookie(token: &str) -> HeaderValue {
    let c = format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    HeaderValue::from_str(&c).expect("token characters are cookie-safe")
}

fn context(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    user: &CurrentUser,
) -> (Ctx, bool) {
    let existing = cookie(headers, CSRF_COOKIE)
        .filter(|t| t.len() == 68 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    let fresh = existing.is_none();
    let csrf = existing
        .map(str::to_string)
        .unwrap_or_else(|| auth::generate("csr_"));
    let src = Source {
        state: state.clone(),
    };
    let ctx = Ctx {
        version: env!("CARGO_PKG_VERSION").to_string(),
        csrf,
        dashboards: Vec::new(),
        view: ViewState::from_query(query.unwrap_or(""), src.now_ms()),
        base_url: base_url(headers),
        user: Some((user.name.clone(), user.role.as_str().to_string())),
    };
    (ctx, fresh)
}

/// Dashboards for navigation: those whose `requires` metric has series.
async fn nav(src: &Source) -> Vec<(String, String)> {
    let names = src.label_values("__name__", None).await.unwrap_or_default();
    src.state
        .0
        .ui
        .dashboards
        .iter()
        .filter(|d| d.slug != "host")
        .filter(|d| d.requires.as_ref().is_none_or(|m| names.contains(m)))
        .map(|d| (d.slug.clone(), d.title.clone()))
        .collect()
}

/// Adds HSTS when the request came over TLS (see `login::is_https`).
pub fn hsts(headers: &HeaderMap, mut resp: Response) -> Response {
    if super::login::is_https(headers) {
        resp.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}

pub fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

fn html(ctx: &Ctx, fresh_cookie: bool, status: StatusCode, body: String) -> Response {
    let mut resp = (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    if fresh_cookie {
        let c = format!(
            "{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            ctx.csrf
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    secure(resp)
}

/// Which page to render, with what it needs.
pub(crate) enum Page {
    /// With the getting-started panel for admins who still need it.
    Overview(Option<dozor_ui::pages::getting_started::GettingStarted>),
    Host(String),
    Dashboard(String),
    Explore,
    Agents(agents::Outcome),
    Containers,
    Container(Box<container::Data>),
    Service(Box<dozor_ui::pages::services::detail::Data>),
    /// A page whose handler gathered its data: title, nav key, body.
    Custom(String, &'static str, BodyFn),
}

pub(crate) type BodyFn = Box<dyn FnOnce(&Ctx) -> dozor_ui::AnyView + Send>;

pub(crate) async fn render(
    state: AppState,
    headers: HeaderMap,
    query: Option<String>,
    user: CurrentUser,
    page: Page,
) -> Response {
    let (mut ctx, fresh) = context(&state, &headers, query.as_deref(), &user);
    let src = Source {
        state: state.clone(),
    };
    ctx.dashboards = nav(&src).await;
    let find = |slug: &str| state.0.ui.dashboards.iter().find(|d| d.slug == slug);
    let (title, active, body) = match page {
        Page::Overview(start) => (
            "Overview".to_string(),
            "overview".to_string(),
            overview::body(&ctx, &src, start).await,
        ),
        Page::Host(h) => (
            h.clone(),
            "overview".into(),
            host::body(&ctx, &src, &h, find("host")).await,
        ),
        Page::Dashboard(slug) => match find(&slug) {
            Some(d) => (
                d.title.clone(),
                format!("/d/{slug}"),
                dashboard::body(&ctx, &src, d, &[]).await,
            ),
            None => return not_found(&ctx, fresh),
        },
        Page::Explore => (
            "Explore".into(),
            "explore".into(),
            explore::body(&ctx, &src).await,
        ),
        Page::Agents(o) => (
            "Agents".into(),
            "agents".into(),
            agents::body(&ctx, &src, o).await,
        ),
        Page::Containers => (
            "Containers".into(),
            "containers".into(),
            containers::body(&ctx, &src).await,
        ),
        Page::Container(d) => (
            format!("{} on {}", d.name, d.host),
            "containers".into(),
            container::body(&ctx, &src, *d).await,
        ),
        Page::Service(d) => {
            use dozor_ui::pages::services::detail;
            (
                format!("Service {}", d.spec.name),
                detail::ACTIVE.into(),
                detail::body(&ctx, &src, *d, find("services")).await,
            )
        }
        Page::Custom(title, active, f) => (title, active.to_string(), f(&ctx)),
    };
    html(
        &ctx,
        fresh,
        StatusCode::OK,
        document(&ctx, &title, &active, body),
    )
}

fn not_found(ctx: &Ctx, fresh: bool) -> Response {
    let body = dozor_ui::pages::not_found();
    html(
        ctx,
        fresh,
        StatusCode::NOT_FOUND,
        document(ctx, "Not found", "", body),
    )
}

#[instrument(skip_all)]
pub async fn overview_page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let start = match ops::onboarding::status(&s.0.ops, &actor(&u, None)).await {
        Ok(Some(o)) if o.show() => Some(GettingStarted {
            hosts: o.hosts,
            hosts_done: o.hosts_done(),
            telegram_bot: o.telegram_bot,
            telegram_chats: o.telegram_chats,
            telegram_done: o.telegram_done(),
            grafana_done: o.grafana_done(),
            builtin_on: o.builtin_on,
            builtin_total: o.builtin_total,
        }),
        Ok(_) => None,
        // The overview stays useful without its checklist.
        Err(e) => {
            tracing::warn!(error = %e, "getting-started checklist unavailable");
            None
        }
    };
    render(s, headers, q, u, Page::Overview(start)).await
}

/// Hides the getting-started panel (admins).
#[instrument(skip_all, fields(user = %u.name))]
pub async fn dismiss_getting_started(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    if let Some(refused) = super::guard::form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    match ops::onboarding::dismiss(&s.0.ops, &actor(&u, None)).await {
        Ok(()) => axum::response::Redirect::to("/").into_response(),
        Err(e) => super::guard::as_page(e),
    }
}

#[instrument(skip_all, fields(host = %host))]
pub async fn host_page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Path(host): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    render(s, headers, q, u, Page::Host(host)).await
}

#[instrument(skip_all, fields(slug = %slug))]
pub async fn dashboard_page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    render(s, headers, q, u, Page::Dashboard(slug)).await
}

#[instrument(skip_all)]
pub async fn explore_page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    render(s, headers, q, u, Page::Explore).await
}

#[instrument(skip_all)]
pub async fn agents_page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
) -> Response {
    render(
        s,
        headers,
        None,
        u,
        Page::Agents(agents::Outcome::default()),
    )
    .await
}

pub async fn asset(Path(name): Path<String>) -> Response {
    match dozor_ui::assets::get(&name) {
        Some((body, ctype)) => secure(
            (
                [
                    (header::CONTENT_TYPE, ctype),
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                ],
                body,
            )
                .into_response(),
        ),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

/// Browsers ask for /favicon.ico whatever the page links.
pub async fn favicon() -> Response {
    asset(Path("favicon.svg".to_string())).await
}

/// A POST is accepted only with the cookie's token echoed in the form and,
/// when the browser says where it comes from, from this same host.
pub(crate) fn csrf_ok(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let Some(cookie) = cookie(headers, CSRF_COOKIE) else {
        return false;
    };
    let same_token = form.get("csrf").is_some_and(|t| {
        t.len() == cookie.len()
            && t.bytes()
                .zip(cookie.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    // Browsers send `Origin: null` in some navigations (headless Chromium
    // does for form POSTs); then the token alone decides, which the
    // SameSite=Strict cookie already keeps from other sites.
    let origin_ok = match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None | Some("null") => true,
        Some(o) => host.is_some_and(|h| o.split_once("://").is_some_and(|(_, rest)| rest == h)),
    };
    same_token && origin_ok
}

pub(crate) fn forbidden() -> Response {
    crate::http::Problem::new(
        StatusCode::FORBIDDEN,
        "CSRF check failed: reload the page and submit the form again.",
    )
    .page()
}
