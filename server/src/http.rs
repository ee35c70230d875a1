//! The HTTP surface: agent protocol, the minimal read API, and operations
//! endpoints. Errors are one type, [`Problem`]: JSON `{"error",
//! "field"?}` for APIs, a short page for browsers; neither carries
//! internals (storage messages are logged, not returned).

mod agent;
mod api;
pub mod auth;
pub mod pages;
mod problem;
mod routes;

pub use problem::Problem;

// The modules other code (and tests) name by their old paths.
pub use api::prom;
pub use auth::{authn, login};
pub use pages::ui;

pub use routes::{
    router, router_with_paths, Paths, API_BODY_LIMIT, DEFAULT_BODY_LIMIT, FORM_BODY_LIMIT,
};

use crate::ingest::Ingest;
use crate::storage::Store;
use crate::telemetry::Telemetry;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::tasks::ONLINE_WINDOW_MS;

pub struct Inner {
    /// Every state-changing operation goes through here.
    pub ops: crate::ops::Ops,
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
    /// The autoscaler's last word on each policy, for the service page.
    pub autoscaler: Arc<crate::autoscale::Autoscaler>,
    agent_limiter: DefaultKeyedRateLimiter<i64>,
    enroll_limiter: DefaultKeyedRateLimiter<IpAddr>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub use crate::config::RateLimits;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("max(1)")
}

impl AppState {
    pub fn new(
        ops: crate::ops::Ops,
        ingest: Ingest,
        limits: &RateLimits,
        remote_write_hash: Option<String>,
    ) -> Self {
        let agent_quota =
            Quota::per_second(nz(limits.agent_per_second)).allow_burst(nz(limits.agent_burst));
        let enroll_quota = Quota::per_minute(nz(limits.enroll_per_minute));
        Self(Arc::new(Inner {
            ops,
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
            autoscaler: Arc::default(),
            agent_limiter: RateLimiter::keyed(agent_quota),
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

/// Headers every response carries: `nosniff` (JSON, `/metrics` and 404s
/// too, not only pages), `no-store` on API answers (they carry data a
/// shared cache must not keep), and HSTS when served over TLS (behind a
/// proxy that says so).
async fn common_headers(req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let api = {
        let p = req.uri().path();
        p.starts_with("/api/") || p.starts_with("/prometheus/") || p == "/metrics"
    };
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(header::X_CONTENT_TYPE_OPTIONS) {
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    if api && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    ui::hsts(&headers, resp)
}

/// Unknown paths: a plain 404 that says so.
async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint", None)
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

/// A JSON error answer.
pub fn error(status: StatusCode, message: impl Into<String>, field: Option<String>) -> Response {
    Problem::new(status, message).field(field).json()
}

/// 429 or 503 with a Retry-After the agent honours.
pub fn retry_later(status: StatusCode, message: impl Into<String>, after: Duration) -> Response {
    Problem::new(status, message).retry_after(after).json()
}

/// Storage failures as JSON: 503 when the database is unreachable
/// (retry), 500 otherwise.
pub fn storage_error(e: crate::storage::StorageError) -> Response {
    Problem::from(e).json()
}

/// Drops a keyed limiter's keys that are back to a full quota, so
/// addresses, agents and users seen once are not remembered for ever.
pub(crate) fn forget_idle<K>(limiter: &DefaultKeyedRateLimiter<K>)
where
    K: std::hash::Hash + Eq + Clone,
{
    limiter.retain_recent();
    limiter.shrink_to_fit();
}

impl AppState {
    /// Forgets idle keys in every keyed rate limiter; the server runs this
    /// every minute.
    pub fn forget_idle_limits(&self) {
        let s = &self.0;
        forget_idle(&s.agent_limiter);
        s.ops.forget_idle_limits();
        forget_idle(&s.enroll_limiter);
        forget_idle(&s.auth.login_per_ip);
        forget_idle(&s.auth.failures_per_account);
        let now = s.auth.now_ms();
        s.auth
            .throttled_until
            .lock()
            .expect("lock")
            .retain(|_, until| *until > now);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_limiter_keys_are_forgotten() {
        let l: DefaultKeyedRateLimiter<u32> =
            RateLimiter::keyed(Quota::per_second(nz(1000)).allow_burst(nz(1)));
        for k in 0..5_000 {
            let _ = l.check_key(&k);
        }
        assert_eq!(l.len(), 5_000);
        // One cell comes back in a millisecond: every key is fresh again.
        std::thread::sleep(Duration::from_millis(20));
        forget_idle(&l);
        assert_eq!(l.len(), 0);
    }
}
