//! Session lifetime on an injected clock (idle and absolute expiry), the
//! per-account sign-in limit with its device-cookie exemption, and
//! changing one's own password.

use crate::support;

use dozor_server::clock::Clock;
use dozor_server::storage::Role;
use support::web::{client, form_page, get, login, pair, set_cookie};
use support::*;

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn sessions_expire_when_idle_and_at_their_absolute_limit() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(now_ms());
    let c = clock.clone();
    let server = spawn_server_with(&dir, None, |cfg| cfg.clock = c).await;
    let base = server.url();
    let cookie = web_session(&server).await;
    assert_eq!(get(&base, "/", &cookie).await.status(), 200);
    // Activity every 7 h keeps it alive past the 8 h idle limit...
    for _ in 0..3 {
        clock.advance(7 * HOUR);
        assert_eq!(get(&base, "/", &cookie).await.status(), 200);
    }
    // ...but 8 h of silence ends it.
    clock.advance(8 * HOUR + 1_000);
    let r = get(&base, "/", &cookie).await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login"));

    // A fresh session used every 6 h still ends 7 days after sign-in.
    let cookie = web_session(&server).await;
    let mut alive_h = 0;
    while get(&base, "/", &cookie).await.status() == 200 {
        clock.advance(6 * HOUR);
        alive_h += 6;
        assert!(alive_h <= 200, "never expired");
    }
    assert_eq!(alive_h, 168, "ends at the 7-day absolute limit");
    server.shutdown().await;
}

#[tokio::test]
async fn failed_sign_ins_throttle_the_account_but_not_its_known_browser() {
    let dir = tempfile::tempdir().unwrap();
    // The per-address limit is raised so the per-account one shows.
    let server = spawn_server_with(&dir, None, |c| c.rate_limits.login_per_minute = 100).await;
    let base = server.url();
    let hash = dozor_server::auth::password::hash(ADMIN_PASSWORD);
    server
        .store
        .create_user("alice", &hash, Role::Viewer, false, now_ms())
        .await
        .unwrap();
    // Alice signs in once from her browser, which keeps a device cookie.
    let ok = login(&base, "alice", ADMIN_PASSWORD).await;
    assert_eq!(ok.status(), 303);
    let device = pair(&set_cookie(&ok, "dozor_device").expect("device cookie"));
    // An attacker fails five times on alice and on a name that does not
    // exist; the sixth try is refused (README: 5 failures a minute).
    for name in ["alice", "ghost"] {
        let statuses: Vec<u16> = futures_seq(&base, name).await;
        assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "{name}");
    }
    let r = login(&base, "alice", ADMIN_PASSWORD).await;
    assert_eq!(
        r.status(),
        429,
        "even the right password waits, from a new browser"
    );
    let after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&after), "{after}");
    // A person sees the sign-in page saying so, not JSON.
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Too many failed sign-ins for this account; try again in"),
        "{page}"
    );
    assert!(page.contains("<form method=\"post\" action=\"/login\""));
    // Alice's own browser is not locked out.
    let (_, csrf, token) = form_page(&base, "/login").await;
    let mine = client()
        .post(format!("{base}/login"))
        .header("cookie", format!("{csrf}; {device}"))
        .form(&[
            ("csrf", token.as_str()),
            ("username", "alice"),
            ("password", ADMIN_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), 303);
    // A forged device cookie does not help.
    let forged = client()
        .post(format!("{base}/login"))
        .header("cookie", format!("{csrf}; dozor_device={}", "0".repeat(32)))
        .form(&[
            ("csrf", token.as_str()),
            ("username", "alice"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 429);
    server.shutdown().await;
}

async fn futures_seq(base: &str, name: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..6 {
        out.push(
            login(base, name, "wrong wrong wrong")
                .await
                .status()
                .as_u16(),
        );
    }
    out
}

#[tokio::test]
async fn users_change_their_own_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let hash = dozor_server::auth::password::hash(ADMIN_PASSWORD);
    server
        .store
        .create_user("eddie", &hash, Role::Editor, false, now_ms())
        .await
        .unwrap();
    let session = |r: &reqwest::Response| pair(&set_cookie(r, "dozor_session").unwrap());
    let here = session(&login(&base, "eddie", ADMIN_PASSWORD).await);
    let elsewhere = session(&login(&base, "eddie", ADMIN_PASSWORD).await);
    let (_, csrf, token) = form_page(&base, "/login").await;
    let change = |current: &str, new: &str| {
        client()
            .post(format!("{base}/account/password"))
            .header("cookie", format!("{csrf}; {here}"))
            .form(&[
                ("csrf", token.as_str()),
                ("current", current),
                ("password", new),
            ])
            .send()
    };
    let r = change("not my password", "a brand new passphrase")
        .await
        .unwrap();
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("The current password is wrong."));
    let r = change(ADMIN_PASSWORD, "short").await.unwrap();
    assert!(r.text().await.unwrap().contains("at least 12"));
    let r = change(ADMIN_PASSWORD, "a brand new passphrase")
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account?password-changed");
    let fresh = session(&r);
    // The other session is gone; this browser got a new one.
    assert_eq!(get(&base, "/", &elsewhere).await.status(), 303);
    assert_eq!(get(&base, "/", &here).await.status(), 303);
    assert_eq!(get(&base, "/", &fresh).await.status(), 200);
    assert_eq!(login(&base, "eddie", ADMIN_PASSWORD).await.status(), 401);
    assert_eq!(
        login(&base, "eddie", "a brand new passphrase")
            .await
            .status(),
        303
    );
    let log = server.store.audit_log(50).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "user.password" && e.actor == "eddie"));
    assert!(log.iter().any(|e| e.action == "user.password.failure"));
    server.shutdown().await;
}
