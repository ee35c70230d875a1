//! User administration and the audit log, over plain HTTP as an admin,
//! with XSS probes in the user-editable fields.

use crate::support;

use dozor_server::auth::password;
use dozor_server::storage::Role;
use support::web::{client, get, login, pair, set_cookie};

#[tokio::test]
async fn admins_manage_users_and_see_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server(&dir, None).await;
    let base = server.url();
    let cookie = support::web_session(&server).await;
    let token = support::web::csrf_of(&cookie);
    let post = |path: &str, fields: Vec<(&'static str, String)>| {
        let mut form = vec![("csrf", token.clone())];
        form.extend(fields);
        client()
            .post(format!("{base}{path}"))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let hostile = "<img src=x onerror=alert(1)>";
    let made = post(
        "/users",
        vec![
            ("username", hostile.into()),
            ("password", "correct horse battery".into()),
            ("role", "editor".into()),
        ],
    );
    let body = made.await.unwrap().text().await.unwrap();
    assert!(
        body.contains("&lt;img src=x onerror=alert(1)&gt;") && !body.contains(hostile),
        "escaped"
    );
    let weak = post(
        "/users",
        vec![
            ("username", "w".into()),
            ("password", "short".into()),
            ("role", "viewer".into()),
        ],
    );
    assert!(weak
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains("at least 12"));
    let ed = server.store.user_by_name(hostile).await.unwrap().unwrap();
    assert_eq!(ed.role, Role::Editor);
    post(
        &format!("/users/{}/role", ed.id),
        vec![("role", "viewer".into())],
    )
    .await
    .unwrap();
    post(&format!("/users/{}/disable", ed.id), vec![])
        .await
        .unwrap();
    let ed = server.store.user_by_id(ed.id).await.unwrap().unwrap();
    assert_eq!((ed.role, ed.disabled), (Role::Viewer, true));
    // The only admin cannot lock everyone out.
    let admin = server.store.user_by_name("admin").await.unwrap().unwrap();
    let r = post(&format!("/users/{}/disable", admin.id), vec![])
        .await
        .unwrap();
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("last admin cannot be disabled"));
    let r = post(
        &format!("/users/{}/role", admin.id),
        vec![("role", "viewer".into())],
    )
    .await
    .unwrap();
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("last admin cannot be demoted"));
    assert!(
        !server
            .store
            .user_by_id(admin.id)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    // Agent actions are audited too.
    let minted = post(
        "/agents/enroll-token",
        vec![("hours", "1".into()), ("uses", "1".into())],
    );
    let page = minted.await.unwrap().text().await.unwrap();
    let token = page.split("DOZOR_ENROLL_TOKEN=").nth(1).unwrap();
    let token: String = token
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    // A one-use token enrols one host, then is refused.
    let collector = dozor_collector::http::ServerClient::new(&base).unwrap();
    let inv = dozor_common::protocol::HostInventory::default();
    assert!(collector.enroll(&token, "new-1", inv.clone()).await.is_ok());
    assert!(
        collector.enroll(&token, "new-2", inv).await.is_err(),
        "used up"
    );
    let bad = post("/agents/enroll-token", vec![("uses", "-3".into())])
        .await
        .unwrap();
    assert!(bad.text().await.unwrap().contains("whole numbers"));
    // The audit page lists what happened, escaped.
    let audit = get(&base, "/audit", &cookie).await.text().await.unwrap();
    for action in [
        "user.create",
        "user.role",
        "user.disable",
        "login.success",
        "enroll_token.create",
    ] {
        assert!(audit.contains(action), "{action}");
    }
    assert!(!audit.contains(hostile));
    // Viewers cannot reach either page.
    let v = password::hash(support::ADMIN_PASSWORD);
    server
        .store
        .create_user("vic", &v, Role::Viewer, false, 0)
        .await
        .unwrap();
    let vl = login(&base, "vic", support::ADMIN_PASSWORD).await;
    let vc = format!(
        "dozor_csrf={token}; {}",
        pair(&set_cookie(&vl, "dozor_session").unwrap())
    );
    assert_eq!(get(&base, "/users", &vc).await.status(), 403);
    assert_eq!(get(&base, "/audit", &vc).await.status(), 403);
    server.shutdown().await;
}
