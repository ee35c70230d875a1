//! Users in the browser over plain HTTP: the one-time setup URL, sign-in
//! (no enumeration, rate-limited), sessions revoked by logout, password
//! change and disable, tampered tokens, roles on forms, and the audit log.

use crate::support;

use support::web::{client, form_page, get, login, pair, set_cookie};

use dozor_server::auth::password;
use dozor_server::storage::Role;
use std::time::Instant;

#[tokio::test]
async fn setup_link_creates_the_first_admin_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server(&dir, None).await;
    let base = server.url();
    let setup = server
        .setup_url
        .clone()
        .expect("a setup URL while no user exists");
    let path = setup.trim_start_matches(&base).to_string();
    // Every page says setup is pending; a wrong token gets nothing.
    assert_eq!(
        client()
            .get(format!("{base}/"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        client()
            .get(format!("{base}/setup?token=dzs_nope"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let (status, csrf, token) = form_page(&base, &path).await;
    assert_eq!(status, 200);
    let setup_token = path.split("token=").nth(1).unwrap();
    let post = |pw: &'static str| {
        client()
            .post(format!("{base}/setup"))
            .header("cookie", csrf.clone())
            .form(&[
                ("csrf", token.as_str()),
                ("token", setup_token),
                ("username", "root"),
                ("password", pw),
            ])
            .send()
    };
    let weak = post("password1234").await.unwrap();
    assert_eq!(weak.status(), 400);
    assert!(weak.text().await.unwrap().contains("too common"));
    let ok = post("correct horse battery staple").await.unwrap();
    assert_eq!(ok.status(), 303);
    let session = pair(&set_cookie(&ok, "dozor_session").unwrap());
    let u = server.store.user_by_name("root").await.unwrap().unwrap();
    assert_eq!(u.role, Role::Admin);
    assert_eq!(
        password::params_of(&u.password_hash),
        Some((19 * 1024, 2, 1))
    );
    let page = get(&base, "/agents", &format!("{csrf}; {session}")).await;
    assert_eq!(page.status(), 200);
    // The link is spent, and says so (not "no admin exists yet").
    let spent = client().get(&setup).send().await.unwrap();
    assert_eq!(spent.status(), 403);
    let text = spent.text().await.unwrap();
    assert!(text.contains("This setup link was used already"), "{text}");
    assert!(!text.contains("No admin exists yet"));
    assert_eq!(post("another good passphrase").await.unwrap().status(), 403);
    assert_eq!(server.store.user_count().await.unwrap(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn sign_in_sessions_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server(&dir, None).await;
    let base = server.url();
    let hash = password::hash(support::ADMIN_PASSWORD);
    let admin = server
        .store
        .create_user("admin", &hash, Role::Admin, false, 0)
        .await
        .unwrap()
        .unwrap();
    let viewer = server
        .store
        .create_user("vera", &hash, Role::Viewer, false, 0)
        .await
        .unwrap()
        .unwrap();

    // Pages need a session.
    let anon = client()
        .get(format!("{base}/explore"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 303);
    assert_eq!(anon.headers()["location"], "/login?next=%2Fexplore");

    // Unknown user and wrong password look the same, and take about as long.
    let (mut t_unknown, mut t_wrong) = (0.0, 0.0);
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let s = Instant::now();
        let a = login(&base, "nobody", "whatever whatever").await;
        t_unknown += s.elapsed().as_secs_f64();
        let s = Instant::now();
        let b = login(&base, "admin", "whatever whatever").await;
        t_wrong += s.elapsed().as_secs_f64();
        assert_eq!((a.status().as_u16(), b.status().as_u16()), (401, 401));
        let strip = |t: String| t.split("name=\"csrf\"").next().unwrap().to_string();
        bodies.push((
            strip(a.text().await.unwrap()),
            strip(b.text().await.unwrap()),
        ));
    }
    assert!(bodies.iter().all(|(a, b)| a == b), "same page for both");
    let ratio = t_unknown / t_wrong;
    assert!((0.5..2.0).contains(&ratio), "timing ratio {ratio:.2}");

    // A good sign-in: a HttpOnly, SameSite=Strict session cookie.
    let ok = login(&base, "ADMIN", support::ADMIN_PASSWORD).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/agents");
    let c = set_cookie(&ok, "dozor_session").unwrap();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict"),
        "{c}"
    );
    let (_, csrf, token) = form_page(&base, "/login").await;
    let cookie = format!("{csrf}; {}", pair(&c));
    assert_eq!(get(&base, "/", &cookie).await.status(), 200);

    // Tampered or foreign tokens are refused.
    let tampered = cookie.replace("dozor_session=", "dozor_session=x");
    assert_eq!(get(&base, "/", &tampered).await.status(), 303);
    let none_alg = format!("{csrf}; dozor_session=eyJhbGciOiJub25lIn0.eyJzdWIiOjF9.");
    assert_eq!(get(&base, "/", &none_alg).await.status(), 303);

    // A viewer may look but not act.
    let v = login(&base, "vera", support::ADMIN_PASSWORD).await;
    let vcookie = format!(
        "{csrf}; {}",
        pair(&set_cookie(&v, "dozor_session").unwrap())
    );
    assert_eq!(get(&base, "/agents", &vcookie).await.status(), 200);
    let act = client()
        .post(format!("{base}/agents/enroll-token"))
        .header("cookie", &vcookie)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(act.status(), 403);
    // Disabling the viewer ends its session at once.
    server
        .store
        .update_user(viewer, None, None, Some(true), 1)
        .await
        .unwrap();
    assert_eq!(get(&base, "/", &vcookie).await.status(), 303);

    // Sign-out revokes the session server-side, not just the cookie.
    let out = client()
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(get(&base, "/", &cookie).await.status(), 303);

    // A password change revokes every session of that user.
    let again = login(&base, "admin", support::ADMIN_PASSWORD).await;
    let cookie = format!(
        "{csrf}; {}",
        pair(&set_cookie(&again, "dozor_session").unwrap())
    );
    assert_eq!(get(&base, "/", &cookie).await.status(), 200);
    let new_hash = password::hash("another good passphrase");
    server
        .store
        .update_user(admin, Some(&new_hash), None, None, 2)
        .await
        .unwrap();
    assert_eq!(get(&base, "/", &cookie).await.status(), 303);

    // The audit log has the attempts.
    let log = server.store.audit_log(100).await.unwrap();
    let count = |a: &str| log.iter().filter(|e| e.action == a).count();
    assert_eq!(count("login.failure"), 6);
    assert!(count("login.success") >= 3 && count("logout") == 1);
    server.shutdown().await;
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server(&dir, None).await;
    let mut last = None;
    // A different name each time, so the per-account limit stays out of it.
    for i in 0..12 {
        let r = login(&server.url(), &format!("nobody{i}"), "whatever whatever").await;
        if r.status() == 429 {
            last = Some(r);
            break;
        }
        assert_eq!(r.status(), 401);
    }
    let r = last.expect("429 within 12 attempts (quota 10 per minute)");
    let after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&after));
    server.shutdown().await;
}

#[tokio::test]
async fn behind_tls_the_cookie_is_secure_and_hsts_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server(&dir, None).await;
    let base = server.url();
    let hash = password::hash(support::ADMIN_PASSWORD);
    server
        .store
        .create_user("admin", &hash, Role::Admin, false, 0)
        .await
        .unwrap();
    let (_, csrf, token) = form_page(&base, "/login").await;
    let r = client()
        .post(format!("{base}/login"))
        .header("cookie", &csrf)
        .header("x-forwarded-proto", "https")
        .form(&[
            ("csrf", token.as_str()),
            ("username", "admin"),
            ("password", support::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let c = set_cookie(&r, "__Host-dozor_session").expect("__Host- cookie over TLS");
    assert!(
        c.contains("; Secure") && c.contains("Path=/") && !c.contains("Domain"),
        "{c}"
    );
    let page = get(&base, "/", &format!("{csrf}; {}", pair(&c))).await;
    assert_eq!(page.status(), 200);
    // Plain HTTP gets no HSTS.
    assert!(get(&base, "/login", "")
        .await
        .headers()
        .get("strict-transport-security")
        .is_none());
    server.shutdown().await;
}
