//! Users in the browser: first-admin setup through a one-time URL, sign
//! in and out, and the session check in front of every page.
//!
//! A session is a signed token (see `auth::session`) in a HttpOnly,
//! SameSite=Strict cookie naming a session row; each request checks the
//! row (not revoked, not idle past the limit, before its absolute expiry)
//! and the user (not disabled), so revocation is immediate.

use super::ui::{cookie, csrf_ok, secure};
use super::AppState;
use crate::auth::{self, password, session::Claims, session::Keys};
use crate::storage::{AuditEntry, Role};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Form;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "dozor_session";
/// The name over HTTPS: `__Host-` makes browsers insist on Secure, Path=/
/// and no Domain. Plain HTTP (the localhost default) cannot use it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-dozor_session";

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
    login_per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl AuthState {
    pub fn new(keys: Keys, setup_token: Option<String>) -> Self {
        let per_minute = NonZeroU32::new(10).expect("nonzero");
        Self {
            keys,
            has_users: AtomicBool::new(setup_token.is_none()),
            setup_token: Mutex::new(setup_token),
            idle_ms: 8 * 3_600_000,
            absolute_ms: 7 * 86_400_000,
            login_per_ip: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
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

fn redirect(to: &str) -> Response {
    secure((StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response())
}

fn html(status: StatusCode, body: String) -> Response {
    secure(
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

pub async fn current_user(s: &AppState, headers: &HeaderMap) -> Option<CurrentUser> {
    let token =
        cookie(headers, SECURE_SESSION_COOKIE).or_else(|| cookie(headers, SESSION_COOKIE))?;
    let now = super::now_ms();
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
            redirect(&format!("/login?{q}"))
        }
    }
}

/// Only local paths, so `next` cannot send a user elsewhere.
fn safe_next(next: Option<&String>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.clone(),
        _ => "/".into(),
    }
}

fn session_cookie(value: &str, max_age_s: i64, https: bool) -> HeaderValue {
    let (name, secure) = if https {
        (SECURE_SESSION_COOKIE, "; Secure")
    } else {
        (SESSION_COOKIE, "")
    };
    let c =
        format!("{name}={value}; Path=/{secure}; HttpOnly; SameSite=Strict; Max-Age={max_age_s}");
    HeaderValue::from_str(&c).expect("token characters are cookie-safe")
}

/// Records an audit entry; a failure is logged, never fatal to the action.
pub(crate) async fn audit(
    s: &AppState,
    actor: &str,
    action: &str,
    target: Option<&str>,
    ip: Option<IpAddr>,
) {
    let e = AuditEntry {
        ts_ms: super::now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.map(str::to_string),
        detail: None,
        ip: ip.map(|i| i.to_string()),
    };
    if let Err(err) = s.0.store.audit(&e).await {
        tracing::error!(error = %err, action, "audit write failed");
    }
}

/// Starts a session for `user_id` and sends the browser to `next`.
async fn start_session(s: &AppState, headers: &HeaderMap, user_id: i64, next: &str) -> Response {
    let now = super::now_ms();
    let sid = auth::generate("ses_");
    let expires = now + s.0.auth.absolute_ms;
    if let Err(e) =
        s.0.store
            .create_session(&auth::hash_secret(&sid), user_id, now, expires)
            .await
    {
        return super::storage_error(e);
    }
    let token = s.0.auth.keys.sign(&Claims {
        sub: user_id,
        sid,
        iat: now / 1000,
        exp: expires / 1000,
    });
    let mut resp = redirect(next);
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&token, s.0.auth.absolute_ms / 1000, is_https(headers)),
    );
    resp
}

fn csrf_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, super::ui::CSRF_COOKIE).map(str::to_string)
}

/// A page that needs a CSRF token: reuse the cookie's or set a fresh one.
fn with_csrf(
    headers: &HeaderMap,
    render: impl FnOnce(&str) -> String,
    status: StatusCode,
) -> Response {
    let (token, fresh) = match csrf_token(headers) {
        Some(t) => (t, false),
        None => (auth::generate("csr_"), true),
    };
    let mut resp = html(status, render(&token));
    if fresh {
        resp.headers_mut()
            .insert(header::SET_COOKIE, super::ui::csrf_cookie(&token));
    }
    resp
}

pub async fn login_page(
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let next = safe_next(q.get("next"));
    with_csrf(
        &headers,
        |t| dozor_ui::pages::auth::login(t, &next, None),
        StatusCode::OK,
    )
}

pub async fn login_submit(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&headers, &form) {
        return super::ui::forbidden();
    }
    if let Err(not_until) = s.0.auth.login_per_ip.check_key(&peer.ip()) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        return super::retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-in attempts; wait a minute",
            wait,
        );
    }
    let username = form.get("username").map(String::as_str).unwrap_or("");
    let pw = form.get("password").map(String::as_str).unwrap_or("");
    let next = safe_next(form.get("next"));
    let user = match s.0.store.user_by_name(username).await {
        Ok(u) => u,
        Err(e) => return super::storage_error(e),
    };
    // Unknown users cost the same hashing work as a wrong password.
    let ok = match &user {
        Some(u) => password::verify(pw, &u.password_hash) && !u.disabled,
        None => {
            password::verify_dummy(pw);
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        audit(&s, username, "login.failure", None, Some(peer.ip())).await;
        return with_csrf(
            &headers,
            |t| dozor_ui::pages::auth::login(t, &next, Some("Wrong username or password.")),
            StatusCode::UNAUTHORIZED,
        );
    };
    if password::needs_rehash(&user.password_hash) {
        let fresh = password::hash(pw);
        if let Err(e) =
            s.0.store
                .update_user(user.id, Some(&fresh), None, None, super::now_ms())
                .await
        {
            tracing::warn!(error = %e, "could not upgrade a password hash");
        }
    }
    audit(&s, &user.username, "login.success", None, Some(peer.ip())).await;
    start_session(&s, &headers, user.id, &next).await
}

pub async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&headers, &form) {
        return super::ui::forbidden();
    }
    if let Some(u) = current_user(&s, &headers).await {
        let _ = s.0.store.revoke_session(&u.sid_hash, super::now_ms()).await;
        audit(&s, &u.name, "logout", None, None).await;
    }
    let mut resp = redirect("/login");
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, is_https(&headers)),
    );
    resp
}

fn token_matches(s: &AppState, given: &str) -> bool {
    let guard = s.0.auth.setup_token.lock().expect("not poisoned");
    guard
        .as_deref()
        .is_some_and(|t| t.len() == given.len() && bool::from(t.as_bytes().ct_eq(given.as_bytes())))
}

pub async fn setup_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let token = q.get("token").cloned().unwrap_or_default();
    if !token_matches(&s, &token) {
        return html(
            StatusCode::FORBIDDEN,
            dozor_ui::pages::auth::setup_pending(),
        );
    }
    with_csrf(
        &headers,
        |t| dozor_ui::pages::auth::setup(t, &token, None),
        StatusCode::OK,
    )
}

pub async fn setup_submit(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&headers, &form) {
        return super::ui::forbidden();
    }
    let token = form.get("token").cloned().unwrap_or_default();
    if !token_matches(&s, &token) {
        return html(
            StatusCode::FORBIDDEN,
            dozor_ui::pages::auth::setup_pending(),
        );
    }
    let username = form.get("username").map(|u| u.trim()).unwrap_or("");
    let pw = form.get("password").map(String::as_str).unwrap_or("");
    let problem =
        if username.is_empty() || username.len() > 64 || username.chars().any(char::is_control) {
            Some("Usernames are 1–64 printable characters.".to_string())
        } else {
            password::check_policy(pw).err().map(|e| format!("{e}."))
        };
    if let Some(p) = problem {
        return with_csrf(
            &headers,
            |t| dozor_ui::pages::auth::setup(t, &token, Some(&p)),
            StatusCode::BAD_REQUEST,
        );
    }
    let created =
        s.0.store
            .create_user(
                username,
                &password::hash(pw),
                Role::Admin,
                true,
                super::now_ms(),
            )
            .await;
    match created {
        Ok(Some(id)) => {
            s.0.auth.setup_token.lock().expect("not poisoned").take();
            s.0.auth.has_users.store(true, Ordering::Relaxed);
            audit(&s, username, "user.create", Some(username), Some(peer.ip())).await;
            tracing::info!(user = %username, "first admin created; the setup link no longer works");
            start_session(&s, &headers, id, "/").await
        }
        Ok(None) => html(
            StatusCode::FORBIDDEN,
            dozor_ui::pages::auth::setup_pending(),
        ),
        Err(e) => super::storage_error(e),
    }
}
