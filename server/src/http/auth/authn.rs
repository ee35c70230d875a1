//! Who is asking: the session check in front of every page, and the API
//! principal (an API token or a session) in front of the Prometheus and
//! read APIs, remote_write and, when configured, /metrics.
//!
//! A session is a signed token (see `auth::session`) in a HttpOnly,
//! SameSite=Strict cookie naming a session row; each request checks the
//! row (not revoked, not idle past the limit, before its absolute expiry)
//! and the user (not disabled), so revocation is immediate. API tokens are
//! looked up by hash through `ops::tokens::authenticate`, which remembers
//! records for two seconds and forgets them on any revocation or user
//! change made through the operations.

use super::AppState;
use crate::auth::{self, session::Keys};
use crate::clock::Clock;
use crate::storage::{Role, Scope};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub const SESSION_COOKIE: &str = "dozor_session";
/// The name over HTTPS: `__Host-` makes browsers insist on Secure, Path=/
/// and no Domain. Plain HTTP (the localhost default) cannot use it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-dozor_session";
/// API tokens start with this, so secret scanners can spot leaked ones.
pub use crate::auth::API_TOKEN_PREFIX;

/// Served over TLS: a reverse proxy says so with X-Forwarded-Proto.
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub struct AuthState {
    pub keys: Keys,
    /// The one-time setup token while no user exists.
    pub setup_token: Mutex<Option<String>>,
    /// Set once any user exists (never unset: users are disabled, not
    /// deleted), so pages stop asking storage.
    pub has_users: AtomicBool,
    pub idle_ms: i64,
    pub absolute_ms: i64,
    /// False: /metrics needs a read token or a session.
    pub metrics_public: bool,
    pub clock: Clock,
    pub(crate) login_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// Failed sign-ins per account name (known or not, so the limiter
    /// reveals nothing), and until when each name is throttled.
    pub(crate) failures_per_account: DefaultKeyedRateLimiter<String>,
    pub(crate) throttled_until: Mutex<HashMap<String, i64>>,
}

impl AuthState {
    pub fn new(keys: Keys, setup_token: Option<String>) -> Self {
        let nz = |n| NonZeroU32::new(n).expect("nonzero");
        Self {
            keys,
            has_users: AtomicBool::new(setup_token.is_none()),
            setup_token: Mutex::new(setup_token),
            idle_ms: 8 * 3_600_000,
            absolute_ms: 7 * 86_400_000,
            metrics_public: true,
            clock: Clock::system(),
            login_per_ip: RateLimiter::keyed(Quota::per_minute(nz(10))),
            // A burst of 4 passes; the 5th failure in a minute throttles
            // the name, so a 6th attempt is refused (README: 5 failures).
            failures_per_account: RateLimiter::keyed(Quota::per_minute(nz(5)).allow_burst(nz(4))),
            throttled_until: Mutex::new(HashMap::new()),
        }
    }

    /// Timeouts, the /metrics switch and the clock from the configuration.
    pub fn configured(mut self, cfg: &crate::Config) -> Self {
        self.idle_ms = cfg.session_idle.as_millis() as i64;
        self.absolute_ms = cfg.session_max.as_millis() as i64;
        self.metrics_public = cfg.metrics_public;
        self.clock = cfg.clock.clone();
        let per_minute = NonZeroU32::new(cfg.rate_limits.login_per_minute.max(1)).expect("max(1)");
        self.login_per_ip = RateLimiter::keyed(Quota::per_minute(per_minute));
        self
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// The signed-in user, put in request extensions by [`require_session`].
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub sid_hash: String,
}

pub async fn current_user(s: &AppState, headers: &HeaderMap) -> Option<CurrentUser> {
    let token = super::ui::cookie(headers, SECURE_SESSION_COOKIE)
        .or_else(|| super::ui::cookie(headers, SESSION_COOKIE))?;
    let now = s.0.auth.now_ms();
    let claims = s.0.auth.keys.verify(token, now / 1000).ok()?;
    let sid_hash = auth::hash_secret(&claims.sid);
    let sess = s.0.store.session(&sid_hash).await.ok()??;
    let live = sess.revoked_ms.is_none()
        && now < sess.expires_ms
        && now - sess.last_seen_ms < s.0.auth.idle_ms
        && sess.user_id == claims.sub;
    if !live {
        return None;
    }
    let user = s.0.store.user_by_id(claims.sub).await.ok()??;
    if user.disabled {
        return None;
    }
    // Idle time is tracked per minute, not per request.
    if now - sess.last_seen_ms > 60_000 {
        let _ = s.0.store.touch_session(&sid_hash, now).await;
    }
    Some(CurrentUser {
        id: user.id,
        name: user.username,
        role: user.role,
        sid_hash,
    })
}

fn html(status: StatusCode, body: String) -> Response {
    super::ui::secure(
        (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
    )
}
/// In front of every page: setup first, then a live session.
pub async fn require_session(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    if !s.0.auth.has_users.load(Ordering::Relaxed) {
        match s.0.store.user_count().await {
            Ok(0) => {
                return html(
                    StatusCode::SERVICE_UNAVAILABLE,
                    dozor_ui::pages::auth::setup_pending(),
                )
            }
            Ok(_) => s.0.auth.has_users.store(true, Ordering::Relaxed),
            Err(e) => return super::storage_error(e),
        }
    }
    match current_user(&s, req.headers()).await {
        Some(u) => {
            req.extensions_mut().insert(u);
            next.run(req).await
        }
        None => {
            let next_url = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next_url)
                .finish();
            super::ui::secure(
                (
                    StatusCode::SEE_OTHER,
                    [(header::LOCATION, format!("/login?{q}"))],
                )
                    .into_response(),
            )
        }
    }
}

/// Records a sign-in event (sign-in, failure, sign-out) through the one
/// audit path the operations use.
pub async fn audit(
    s: &AppState,
    actor: &str,
    action: &str,
    target: Option<&str>,
    ip: Option<IpAddr>,
) {
    let who = crate::ops::Actor::anonymous(actor, ip);
    s.0.ops
        .audit(&who, action, target.map(str::to_string))
        .await;
}

/// Who an API request acts for, and how far.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub name: String,
    pub scope: Scope,
    /// The API token used; None for a browser session.
    pub token_id: Option<i64>,
}

/// The secret in `Authorization`: a bearer token, or basic auth whose
/// password is the token (Grafana's "Basic auth"; any user name). With an
/// empty password the user name is taken, for `curl -u TOKEN:`.
pub fn presented_secret(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(t) = auth::bearer(Some(h)) {
        return Some(t.to_string());
    }
    let (scheme, b64) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    let secret = if pass.is_empty() { user } else { pass };
    (!secret.is_empty()).then(|| secret.to_string())
}

/// Ok(None): no credentials at all. Err: credentials that do not work.
pub async fn principal(s: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, Response> {
    if let Some(secret) = presented_secret(headers) {
        let t = match crate::ops::tokens::authenticate(&s.0.ops, &secret).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Err(unauthorized(
                    "the API token is unknown, revoked or expired, or its owner is disabled",
                ))
            }
            Err(e) => return Err(crate::http::Problem::from(e).json()),
        };
        return Ok(Some(Principal {
            user_id: t.user_id,
            name: t.username,
            scope: t.scope.cap(t.user_role),
            token_id: Some(t.id),
        }));
    }
    Ok(current_user(s, headers).await.map(|u| Principal {
        user_id: u.id,
        name: u.name,
        scope: Scope::for_role(u.role),
        token_id: None,
    }))
}

pub fn unauthorized(message: &str) -> Response {
    let mut resp = super::error(StatusCode::UNAUTHORIZED, message, None);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"dozor\""),
    );
    resp
}

/// A principal with at least `need`, or the 401/403 to answer.
pub async fn require(
    s: &AppState,
    headers: &HeaderMap,
    need: Scope,
) -> Result<Principal, Response> {
    match principal(s, headers).await? {
        None => Err(unauthorized(&format!(
            "this API needs a {} token ('Authorization: Bearer <token>' or basic auth with the token as password) or a signed-in session",
            need.as_str()
        ))),
        Some(p) if p.scope < need => Err(super::error(
            StatusCode::FORBIDDEN,
            format!(
                "this needs {} scope; the credentials allow {}",
                need.as_str(),
                p.scope.as_str()
            ),
            None,
        )),
        Some(p) => Ok(p),
    }
}

/// In front of the read APIs (Prometheus-compatible and dozor's own).
pub async fn read_api(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    match require(&s, req.headers(), Scope::Read).await {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(r) if req.uri().path().starts_with("/prometheus/") => prometheus_refusal(r).await,
        Err(r) => r,
    }
}

/// A refusal as Prometheus's API shapes errors (`status`, `errorType`,
/// `error`), which is what Grafana and other clients read.
async fn prometheus_refusal(r: Response) -> Response {
    let (mut parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let error = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_default();
    let error_type = match parts.status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "internal",
    };
    let body =
        serde_json::json!({"status": "error", "errorType": error_type, "error": error}).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// `/metrics`: open by default like Prometheus exporters, or read-scoped.
pub async fn metrics_gate(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if s.0.auth.metrics_public {
        return next.run(req).await;
    }
    read_api(State(s), req, next).await
}
