//! Invitations over plain HTTP: an admin makes a link, the invitee picks a
//! name and password and is signed in with the invited role; the link
//! works once, expires (injected clock) and can be revoked.

use crate::support;

use dozor_server::clock::Clock;
use dozor_server::storage::Role;
use support::web::{client, get, pair, set_cookie};
use support::*;

#[tokio::test]
async fn invitations_work_once_expire_and_can_be_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(now_ms());
    let c = clock.clone();
    let server = spawn_server_with(&dir, None, |cfg| cfg.clock = c).await;
    let base = server.url();
    let cookie = web_session(&server).await;
    let csrf = support::web::csrf_of(&cookie);
    let admin_post = |path: String, fields: Vec<(&'static str, &'static str)>| {
        let mut form = vec![("csrf", csrf.clone())];
        form.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
        let (base, cookie) = (base.clone(), cookie.clone());
        async move {
            let r = client()
                .post(format!("{base}{path}"))
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let invite = |role: &'static str, hours: &'static str| {
        let p = admin_post(
            "/users/invite".into(),
            vec![("role", role), ("hours", hours)],
        );
        async move {
            let (status, body) = p.await;
            assert_eq!(status, 200);
            let at = body.find("/invite?token=dzi_").expect("the link is shown");
            body[at + "/invite?token=".len()..][..68].to_string()
        }
    };
    let token = invite("editor", "1").await;
    let page = client()
        .get(format!("{base}/invite?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let icsrf = pair(&set_cookie(&page, "dozor_csrf").unwrap());
    assert!(page.text().await.unwrap().contains("invited as editor"));
    let itoken = icsrf.split_once('=').unwrap().1.to_string();
    let accept = |name: &str, pw: &str| {
        client()
            .post(format!("{base}/invite"))
            .header("cookie", &icsrf)
            .form(&[
                ("csrf", itoken.as_str()),
                ("token", token.as_str()),
                ("username", name),
                ("password", pw),
            ])
            .send()
    };
    let hostile = "<img src=x onerror=alert(1)>";
    let r = accept(hostile, "short").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("at least 12"));
    let r = accept("ADMIN", "a long enough passphrase").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("taken"));
    let r = accept(hostile, "a long enough passphrase").await.unwrap();
    assert_eq!(r.status(), 303, "accepted and signed in");
    let session = pair(&set_cookie(&r, "dozor_session").unwrap());
    assert_eq!(get(&base, "/", &session).await.status(), 200);
    let user = server.store.user_by_name(hostile).await.unwrap().unwrap();
    assert_eq!(user.role, Role::Editor);
    // Used: the link is dead, for reading and for posting.
    let again = client()
        .get(format!("{base}/invite?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403);
    assert_eq!(
        accept("someone", "a long enough passphrase")
            .await
            .unwrap()
            .status(),
        403
    );
    // The users page lists the new user escaped; the audit log has it all.
    let users = get(&base, "/users", &cookie).await.text().await.unwrap();
    assert!(users.contains("&lt;img src=x onerror=alert(1)&gt;") && !users.contains(hostile));
    let log = server.store.audit_log(50).await.unwrap();
    for action in ["invite.create", "invite.accept"] {
        assert!(log.iter().any(|e| e.action == action), "{action}");
    }

    // Expiry on the injected clock.
    let late = invite("viewer", "1").await;
    clock.advance(3_600_001);
    let r = client()
        .get(format!("{base}/invite?token={late}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Revocation, from the pending list.
    let revoked = invite("viewer", "24").await;
    let pending = server.store.pending_invites(clock.now_ms()).await.unwrap();
    assert_eq!(pending.len(), 1, "the expired one is no longer pending");
    let (status, body) =
        admin_post(format!("/users/invites/{}/revoke", pending[0].id), vec![]).await;
    assert_eq!(status, 200);
    assert!(body.contains("Invitation revoked."));
    let r = client()
        .get(format!("{base}/invite?token={revoked}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A wrong token, and no CSRF token, are refused.
    let r = client()
        .get(format!("{base}/invite?token=dzi_guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client()
        .post(format!("{base}/invite"))
        .form(&[("token", revoked.as_str()), ("username", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    server.shutdown().await;
}
