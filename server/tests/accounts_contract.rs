//! Users, sessions and the audit log: the same tests on SQLite and on a
//! fresh PostgreSQL database.

use crate::support;

use dozor_server::auth::password;
use dozor_server::storage::{AuditEntry, Role, Scope, Store};

async fn users_and_setup(store: Store) {
    assert_eq!(store.user_count().await.unwrap(), 0);
    let h = password::hash("correct horse battery");
    let admin = store
        .create_user("Alice", &h, Role::Admin, true, 1000)
        .await
        .unwrap()
        .expect("first admin");
    // Setup is over once a user exists; names are case-insensitive.
    assert_eq!(
        store
            .create_user("bob", &h, Role::Admin, true, 1001)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .create_user("ALICE", &h, Role::Viewer, false, 1002)
            .await
            .unwrap(),
        None
    );
    let bob = store
        .create_user("bob", &h, Role::Viewer, false, 1003)
        .await
        .unwrap()
        .unwrap();
    let a = store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!((a.id, a.role, a.disabled), (admin, Role::Admin, false));
    assert!(password::verify("correct horse battery", &a.password_hash));
    assert!(!format!("{a:?}").contains("argon2"), "Debug hides the hash");
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["Alice", "bob"]);
    assert!(store
        .update_user(bob, None, Some(Role::Editor), Some(true), 2000)
        .await
        .unwrap());
    let b = store.user_by_id(bob).await.unwrap().unwrap();
    assert_eq!(
        (b.role, b.disabled, b.updated_ms),
        (Role::Editor, true, 2000)
    );
    assert_eq!(b.password_hash, h, "untouched fields stay");
    assert!(!store
        .update_user(999, None, None, Some(true), 2000)
        .await
        .unwrap());
}

async fn sessions_are_revoked_by_user_changes(store: Store) {
    let h = password::hash("correct horse battery");
    let u = store
        .create_user("carol", &h, Role::Viewer, false, 0)
        .await
        .unwrap()
        .unwrap();
    store.create_session("s1", u, 100, 10_000).await.unwrap();
    store.create_session("s2", u, 100, 10_000).await.unwrap();
    store.touch_session("s1", 500).await.unwrap();
    let s = store.session("s1").await.unwrap().unwrap();
    assert_eq!((s.user_id, s.last_seen_ms, s.revoked_ms), (u, 500, None));
    store.revoke_session("s1", 600).await.unwrap();
    assert_eq!(
        store.session("s1").await.unwrap().unwrap().revoked_ms,
        Some(600)
    );
    assert_eq!(store.session("s2").await.unwrap().unwrap().revoked_ms, None);
    // A password change revokes every other session at once.
    store
        .update_user(u, Some("new-hash"), None, None, 700)
        .await
        .unwrap();
    assert_eq!(
        store.session("s2").await.unwrap().unwrap().revoked_ms,
        Some(700)
    );
    assert_eq!(store.session("nope").await.unwrap(), None);
    store.create_session("s3", u, 800, 10_000).await.unwrap();
    assert_eq!(store.revoke_user_sessions(u, 900).await.unwrap(), 1);
}

async fn audit_log_keeps_order(store: Store) {
    for (i, action) in ["login.failure", "login.success", "user.create"]
        .iter()
        .enumerate()
    {
        store
            .audit(&AuditEntry {
                ts_ms: 1000 + i as i64,
                actor: "alice".into(),
                action: action.to_string(),
                target: Some("<script>".into()),
                detail: None,
                ip: Some("127.0.0.1".into()),
            })
            .await
            .unwrap();
    }
    let log = store.audit_log(2).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["user.create", "login.success"]);
    assert_eq!(log[0].target.as_deref(), Some("<script>"));
}

async fn api_tokens_are_scoped_listed_and_revoked(store: Store) {
    let h = password::hash("correct horse battery");
    let alice = store
        .create_user("alice", &h, Role::Editor, false, 1000)
        .await
        .unwrap()
        .unwrap();
    let bob = store
        .create_user("bob", &h, Role::Viewer, false, 1000)
        .await
        .unwrap()
        .unwrap();
    let a1 = store
        .create_api_token(alice, "grafana", "hash-a1", Scope::Read, 2000, None)
        .await
        .unwrap();
    let a2 = store
        .create_api_token(alice, "prom", "hash-a2", Scope::Admin, 2001, Some(5000))
        .await
        .unwrap();
    store
        .create_api_token(bob, "script", "hash-b1", Scope::Read, 2002, None)
        .await
        .unwrap();
    let t = store.api_token("hash-a2").await.unwrap().unwrap();
    assert_eq!(
        (t.id, t.username.as_str(), t.scope, t.user_role),
        (a2, "alice", Scope::Admin, Role::Editor)
    );
    // An editor's admin-scoped token acts as write; it expires at 5000.
    assert_eq!(t.scope.cap(t.user_role), Scope::Write);
    assert!(t.live(4999) && !t.live(5000));
    assert!(store.api_token("nope").await.unwrap().is_none());
    let mine: Vec<i64> = store
        .list_api_tokens(Some(alice))
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(mine, [a2, a1], "newest first, only alice's");
    assert_eq!(store.list_api_tokens(None).await.unwrap().len(), 3);
    // Bob cannot revoke alice's token; an admin (no owner filter) can.
    assert!(!store.revoke_api_token(a1, Some(bob), 3000).await.unwrap());
    assert!(store.revoke_api_token(a1, None, 3000).await.unwrap());
    assert!(!store.revoke_api_token(a1, None, 3001).await.unwrap());
    assert!(!store
        .api_token("hash-a1")
        .await
        .unwrap()
        .unwrap()
        .live(3002));
    store.touch_api_token(a2, 4000).await.unwrap();
    let t = store.api_token("hash-a2").await.unwrap().unwrap();
    assert_eq!(t.last_used_ms, Some(4000));
    // Disabling the owner kills the token too.
    store
        .update_user(alice, None, None, Some(true), 4100)
        .await
        .unwrap();
    assert!(!store
        .api_token("hash-a2")
        .await
        .unwrap()
        .unwrap()
        .live(4200));
}

contract!(
    api_tokens_are_scoped_listed_and_revoked,
    users_and_setup,
    sessions_are_revoked_by_user_changes,
    audit_log_keeps_order
);
