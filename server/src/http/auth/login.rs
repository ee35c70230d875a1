//! Users in the browser: first-admin setup through a one-time URL, and
//! sign in and out. The session check itself is in `authn`.

use super::ui::{cookie, csrf_ok, secure};
use super::{throttle, AppState};
use crate::auth::{self, password, session::Claims};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use governor::clock::{Clock, DefaultClock};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use subtle::ConstantTimeEq;

pub use super::authn::{
    audit, current_user, is_https, require_session, AuthState, CurrentUser, SECURE_SESSION_COOKIE,
    SESSION_COOKIE,
};

fn redirect(to: &str) -> Response {
    secure((StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response())
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
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

/// Starts a session for `user_id` and sends the browser to `next`.
pub(crate) async fn start_session(
    s: &AppState,
    headers: &HeaderMap,
    user_id: i64,
    next: &str,
) -> Response {
    let now = s.0.auth.now_ms();
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
pub(crate) fn with_csrf(
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
    let next = safe_next(form.get("next"));
    if let Err(not_until) = s.0.auth.login_per_ip.check_key(&peer.ip()) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        return too_many(
            &headers,
            &next,
            "Too many sign-in attempts from this address",
            wait,
        );
    }
    let username = form.get("username").map(String::as_str).unwrap_or("");
    let pw = form.get("password").map(String::as_str).unwrap_or("");
    let now = s.0.auth.now_ms();
    let key = throttle::account_key(username);
    if let Some(wait_ms) = throttle::throttled(&s.0.auth, &headers, &key, now) {
        return too_many(
            &headers,
            &next,
            "Too many failed sign-ins for this account",
            std::time::Duration::from_millis(wait_ms as u64),
        );
    }
    let user = match s.0.store.user_by_name(username).await {
        Ok(u) => u,
        Err(e) => return super::storage_error(e),
    };
    // Unknown users cost the same hashing work as a wrong password.
    let ok = match &user {
        Some(u) => password::verify_off_thread(pw, &u.password_hash).await && !u.disabled,
        None => {
            password::verify_dummy_off_thread(pw).await;
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        throttle::record_failure(&s.0.auth, &key, now);
        audit(&s, username, "login.failure", None, Some(peer.ip())).await;
        return with_csrf(
            &headers,
            |t| dozor_ui::pages::auth::login(t, &next, Some("Wrong username or password.")),
            StatusCode::UNAUTHORIZED,
        );
    };
    if password::needs_rehash(&user.password_hash) {
        let fresh = password::hash_off_thread(pw).await;
        if let Err(e) =
            s.0.store
                .update_user(user.id, Some(&fresh), None, None, now)
                .await
        {
            tracing::warn!(error = %e, "could not upgrade a password hash");
        }
    }
    audit(&s, &user.username, "login.success", None, Some(peer.ip())).await;
    let mut resp = start_session(&s, &headers, user.id, &next).await;
    resp.headers_mut().append(
        header::SET_COOKIE,
        throttle::device_cookie(&s.0.auth, &headers, &key, is_https(&headers)),
    );
    resp
}

/// 429 as the sign-in page with a message (a person is reading it), with
/// Retry-After for anything that is not.
fn too_many(headers: &HeaderMap, next: &str, what: &str, wait: std::time::Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let message = format!("{what}; try again in {secs} s.");
    let mut resp = with_csrf(
        headers,
        |t| dozor_ui::pages::auth::login(t, next, Some(&message)),
        StatusCode::TOO_MANY_REQUESTS,
    );
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from_str(&secs.to_string()).expect("digits"),
    );
    resp
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
        let _ =
            s.0.store
                .revoke_session(&u.sid_hash, s.0.auth.now_ms())
                .await;
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
        return setup_refused(&s);
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
        return setup_refused(&s);
    }
    let username = form.get("username").map(|u| u.trim()).unwrap_or("");
    let pw = form.get("password").map(String::as_str).unwrap_or("");
    let who = crate::ops::Actor::anonymous(username, Some(peer.ip()));
    match crate::ops::users::create_first_admin(&s.0.ops, &who, username, pw).await {
        Ok(Some(id)) => {
            s.0.auth.setup_token.lock().expect("not poisoned").take();
            s.0.auth.has_users.store(true, Ordering::Relaxed);
            tracing::info!(user = %username, "first admin created; the setup link no longer works");
            start_session(&s, &headers, id, "/").await
        }
        Ok(None) => setup_refused(&s),
        Err(e) => {
            let field = crate::http::pages::users::account_field(&e, pw);
            match super::guard::on_page(e) {
                super::guard::Shown::Answer(r) => r,
                super::guard::Shown::Notice(p) => {
                    let error = dozor_ui::components::form::FormError::new(field, p);
                    with_csrf(
                        &headers,
                        |t| dozor_ui::pages::auth::setup(t, &token, Some(&error)),
                        StatusCode::BAD_REQUEST,
                    )
                }
            }
        }
    }
}

/// A setup link that does not work: used already (an admin exists: sign
/// in), or wrong while setup is still pending.
fn setup_refused(s: &AppState) -> Response {
    let page = if s.0.auth.has_users.load(Ordering::Relaxed) {
        dozor_ui::pages::auth::setup_done()
    } else {
        dozor_ui::pages::auth::setup_pending()
    };
    html(StatusCode::FORBIDDEN, page)
}
