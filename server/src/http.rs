//! The HTTP surface: agent protocol, the minimal read API, and operations
//! endpoints. Errors are JSON `{"error", "field"?}` and never carry
//! internals (storage messages are logged, not returned).

mod account;
mod agent_tasks;
mod agents;
mod alerting;
mod alerts_page;
pub mod authn;
mod containers;
mod guard;
mod invites;
pub mod login;
mod ops;
pub mod prom;
mod prom_rules;
mod range_cache;
mod read;
mod rules_editor;
mod rules_page;
mod silences;
mod targets_admin;
mod targets_page;
mod telegram_settings;
mod throttle;
pub mod ui;
mod ui_agents;
mod ui_source;
mod users;
mod write;

use crate::ingest::Ingest;
use crate::storage::Store;
use crate::telemetry::Telemetry;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dozor_common::containers::{TASKS_PATH, TASK_RESULT_PATH};
use dozor_common::protocol::{ErrorBody, ENROLL_PATH, HEARTBEAT_PATH};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An agent is online when its last heartbeat is this recent (three
/// default intervals plus slack).
pub const ONLINE_WINDOW_MS: i64 = 60_000;

pub struct Inner {
    pub ingest: Ingest,
    pub engine: crate::promql::Engine,
    /// SHA-256 of the remote_write token; None disables the endpoint.
    pub remote_write_hash: Option<String>,
    pub store: Store,
    pub telemetry: Arc<Telemetry>,
    pub ui: ui::UiState,
    pub auth: authn::AuthState,
    /// None when no rules are configured.
    pub alerting: Option<Arc<crate::alerting::engine::Alerting>>,
    /// The bot's token slot, for the Telegram settings page.
    pub telegram: Option<crate::alerting::service::TelegramSettings>,
    agent_limiter: DefaultKeyedRateLimiter<i64>,
    /// Tasks a user's pages may queue (log fetches, actions), per user.
    task_limiter: DefaultKeyedRateLimiter<String>,
    enroll_limiter: DefaultKeyedRateLimiter<IpAddr>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Heartbeats per second per agent, sustained.
    pub agent_per_second: u32,
    pub agent_burst: u32,
    /// Enrolment attempts per minute per client address.
    pub enroll_per_minute: u32,
    /// Sign-in attempts per minute per client address.
    pub login_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            agent_per_second: 20,
            agent_burst: 100,
            enroll_per_minute: 10,
            login_per_minute: 10,
        }
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("max(1)")
}

impl AppState {
    pub fn new(ingest: Ingest, limits: &RateLimits, remote_write_hash: Option<String>) -> Self {
        let agent_quota =
            Quota::per_second(nz(limits.agent_per_second)).allow_burst(nz(limits.agent_burst));
        let enroll_quota = Quota::per_minute(nz(limits.enroll_per_minute));
        Self(Arc::new(Inner {
            engine: crate::storage::engine(&ingest.store, crate::promql::Limits::default()),
            remote_write_hash,
            store: ingest.store.clone(),
            telemetry: ingest.telemetry.clone(),
            ui: ui::UiState::default(),
            // Replaced at start (`with_auth`) by the persistent secret.
            auth: authn::AuthState::new(
                crate::auth::session::Keys::from_bytes(rand::random()),
                None,
            ),
            ingest,
            alerting: None,
            telegram: None,
            agent_limiter: RateLimiter::keyed(agent_quota),
            task_limiter: RateLimiter::keyed(Quota::per_second(nz(5)).allow_burst(nz(20))),
            enroll_limiter: RateLimiter::keyed(enroll_quota),
        }))
    }
}

impl AppState {
    /// Sets the sign-in state; only before the router is built.
    pub fn with_auth(mut self, auth: authn::AuthState) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.auth = auth;
        }
        self
    }

    /// Sets the rule engine; only before the router is built.
    pub fn with_alerting(
        mut self,
        a: Option<Arc<crate::alerting::engine::Alerting>>,
        telegram: Option<crate::alerting::service::TelegramSettings>,
    ) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.alerting = a;
            inner.telegram = telegram;
        }
        self
    }

    /// Sets the dashboard's state; only before the router is built.
    pub fn with_ui(mut self, ui: ui::UiState) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.ui = ui;
        }
        self
    }
}

/// The read APIs: a read-scoped API token or a session.
fn read_api(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/agents", get(read::agents))
        .route("/api/v1/series", get(read::series))
        .route("/api/v1/series/{id}/samples", get(read::samples))
        .route(
            "/prometheus/api/v1/query",
            get(prom::query).post(prom::query),
        )
        .route(
            "/prometheus/api/v1/query_range",
            get(prom::query_range).post(prom::query_range),
        )
        .route(
            "/prometheus/api/v1/series",
            get(prom::series).post(prom::series),
        )
        .route(
            "/prometheus/api/v1/labels",
            get(prom::labels).post(prom::labels),
        )
        .route(
            "/prometheus/api/v1/label/{name}/values",
            get(prom::label_values),
        )
        .route("/prometheus/api/v1/metadata", get(prom::metadata))
        .route(
            "/prometheus/api/v1/query_exemplars",
            get(prom::empty_list).post(prom::empty_list),
        )
        .route("/prometheus/api/v1/rules", get(prom_rules::rules))
        .route("/prometheus/api/v1/alerts", get(prom_rules::alerts))
        .route("/prometheus/api/v1/status/buildinfo", get(prom::buildinfo))
        .route(
            "/prometheus/api/v1/status/runtimeinfo",
            get(prom::runtimeinfo),
        )
        .route("/prometheus/api/v1/status/flags", get(prom::flags))
        .route("/prometheus/federate", get(prom::federate))
        .route_layer(axum::middleware::from_fn_with_state(state, authn::read_api))
}

pub fn router(state: AppState) -> Router {
    let form_limit = || DefaultBodyLimit::max(16 * 1024);
    // Every page and form behind a live session (and setup done).
    let pages = Router::new()
        .route("/", get(ui::overview_page))
        .route("/hosts/{host}", get(ui::host_page))
        .route("/d/{slug}", get(ui::dashboard_page))
        .route("/explore", get(ui::explore_page))
        .route("/agents", get(ui::agents_page))
        .route(
            "/agents/enroll-token",
            post(ui_agents::new_enroll_token).layer(form_limit()),
        )
        .route(
            "/agents/revoke-tokens",
            post(ui_agents::revoke_enroll_tokens).layer(form_limit()),
        )
        .route(
            "/agents/{name}/revoke",
            post(ui_agents::revoke_agent).layer(form_limit()),
        )
        .route(
            "/users",
            get(users::users_page)
                .post(users::create)
                .layer(form_limit()),
        )
        .route(
            "/users/{id}/{action}",
            post(users::change).layer(form_limit()),
        )
        .route("/users/invite", post(invites::create).layer(form_limit()))
        .route(
            "/users/invites/{id}/revoke",
            post(invites::revoke).layer(form_limit()),
        )
        .route("/audit", get(users::audit_page))
        .route("/account", get(account::page))
        .route(
            "/account/password",
            post(account::change_password).layer(form_limit()),
        )
        .route(
            "/account/tokens",
            post(account::create_token).layer(form_limit()),
        )
        .route(
            "/account/tokens/{id}/revoke",
            post(account::revoke_token).layer(form_limit()),
        )
        .route("/containers", get(containers::fleet))
        .route("/containers/view", get(containers::page))
        .route("/containers/logs", get(containers::logs))
        .route(
            "/containers/action",
            post(containers::action).layer(form_limit()),
        )
        .merge(alerting::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            login::require_session,
        ));
    Router::new()
        .merge(pages)
        .route(
            "/login",
            get(login::login_page)
                .post(login::login_submit)
                .layer(form_limit()),
        )
        .route("/logout", post(login::logout).layer(form_limit()))
        .route(
            "/setup",
            get(login::setup_page)
                .post(login::setup_submit)
                .layer(form_limit()),
        )
        .route(
            "/invite",
            get(invites::page).post(invites::accept).layer(form_limit()),
        )
        .route("/assets/{name}", get(ui::asset))
        .route("/favicon.ico", get(ui::favicon))
        .route(ENROLL_PATH, post(agents::enroll))
        .route(HEARTBEAT_PATH, post(agents::heartbeat))
        .route(TASKS_PATH, get(agent_tasks::poll))
        .route(
            TASK_RESULT_PATH,
            // Log answers are up to a few MiB.
            post(agent_tasks::result).layer(DefaultBodyLimit::max(8 << 20)),
        )
        .merge(read_api(state.clone()))
        .route("/prometheus/api/v1/write", post(write::write))
        .route(
            "/metrics",
            get(ops::metrics).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                authn::metrics_gate,
            )),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        // The heartbeat handler enforces its own, larger limit and answers
        // 413 in the protocol's JSON.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .layer(axum::middleware::from_fn(tls_headers))
        // Pages, JSON and /metrics compress well; agents' request bodies
        // are decoded by their handlers, not here.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// HSTS on every response served over TLS (behind a proxy that says so).
async fn tls_headers(req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    ui::hsts(&headers, next.run(req).await)
}

/// Records every request in `dozor_http_request_duration_seconds`, by
/// route template (never the raw path, which would explode cardinality).
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    state.0.telemetry.http_request(
        method.as_str(),
        &route,
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}

pub fn error(status: StatusCode, message: impl Into<String>, field: Option<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.into(),
            field,
        }),
    )
        .into_response()
}

/// 429 or 503 with a Retry-After the agent honours.
pub fn retry_later(status: StatusCode, message: impl Into<String>, after: Duration) -> Response {
    let mut resp = error(status, message, None);
    let secs = after.as_secs().max(1).to_string();
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&secs).expect("digits are a valid header"),
    );
    resp
}

/// Storage failures: 503 when the database is unreachable (retry), 500
/// otherwise. The detail goes to the log only.
pub fn storage_error(e: crate::storage::StorageError) -> Response {
    if e.is_unavailable() {
        tracing::warn!(error = %e, "storage unavailable");
        retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage is unavailable; retry later",
            Duration::from_secs(5),
        )
    } else {
        tracing::error!(error = %e, "storage error");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal storage error",
            None,
        )
    }
}

pub fn now_ms() -> i64 {
    dozor_collector::agent::now_ms()
}

pub(crate) fn wait_time<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Option<Duration>
where
    K: std::hash::Hash + Eq + Clone,
{
    limiter
        .check_key(key)
        .err()
        .map(|nu| nu.wait_time_from(DefaultClock::default().now()))
}
