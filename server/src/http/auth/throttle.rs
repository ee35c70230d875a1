//! Sign-in throttling per account, next to the per-IP limit. Failed
//! attempts against one name (existing or not, so nothing is revealed)
//! are limited to 5 a minute; past that the name answers 429 with
//! Retry-After for the rest of the minute.
//!
//! So that an attacker cannot keep a real user out by failing on purpose
//! (OWASP's "device cookie" defence), a browser that has signed in to the
//! account before carries a signed device cookie and skips the account
//! throttle; it still counts against its own IP's limit.

use super::authn::AuthState;
use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock as _, DefaultClock};

pub const DEVICE_COOKIE: &str = "dozor_device";

/// The limiter key: the name as the user table compares it.
pub fn account_key(username: &str) -> String {
    username.trim().to_lowercase().chars().take(64).collect()
}

/// How long this name is still throttled, in ms, unless the browser has
/// this account's device cookie.
pub fn throttled(auth: &AuthState, headers: &HeaderMap, key: &str, now_ms: i64) -> Option<i64> {
    let until = *auth.throttled_until.lock().expect("lock").get(key)?;
    if until <= now_ms || has_device(auth, headers, key) {
        return None;
    }
    Some(until - now_ms)
}

/// Counts a failed attempt; the fifth within a minute throttles the name.
pub fn record_failure(auth: &AuthState, key: &str, now_ms: i64) {
    if let Err(not_until) = auth.failures_per_account.check_key(&key.to_string()) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut map = auth.throttled_until.lock().expect("lock");
        if map.len() > 10_000 {
            map.retain(|_, until| *until > now_ms);
            auth.failures_per_account.retain_recent();
        }
        map.insert(key.to_string(), now_ms + wait.as_millis() as i64);
    }
}

fn tag(auth: &AuthState, key: &str) -> String {
    auth.keys.tag(&format!("device:{key}"))
}

fn has_device(auth: &AuthState, headers: &HeaderMap, key: &str) -> bool {
    let want = tag(auth, key);
    super::ui::cookie(headers, DEVICE_COOKIE)
        .into_iter()
        .flat_map(|v| v.split('.'))
        .any(|t| t.len() == want.len() && subtle_eq(t, &want))
}

fn subtle_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The device cookie after a successful sign-in: this account's tag, kept
/// with up to three others so shared browsers work for several accounts.
pub fn device_cookie(auth: &AuthState, headers: &HeaderMap, key: &str, https: bool) -> HeaderValue {
    let mine = tag(auth, key);
    let mut tags: Vec<&str> = super::ui::cookie(headers, DEVICE_COOKIE)
        .map(|v| {
            v.split('.')
                .filter(|t| *t != mine && t.len() == mine.len())
                .collect()
        })
        .unwrap_or_default();
    tags.truncate(3);
    tags.insert(0, &mine);
    let secure = if https { "; Secure" } else { "" };
    let c = format!(
        "{DEVICE_COOKIE}={}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=31536000{secure}",
        tags.join(".")
    );
    HeaderValue::from_str(&c).expect("hex is cookie-safe")
}
