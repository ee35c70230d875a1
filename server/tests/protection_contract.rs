//! The protection store on SQLite, PostgreSQL and TimescaleDB: settings
//! (defaults until saved), blocks (in force, ended, dry runs, history),
//! bad-path hits for the fleet rule, the busiest addresses, and agents'
//! addresses.

use crate::support;

use dozor_common::protection::{Activity, Settings};
use dozor_server::storage::{CreateAgent, NewAgent, NewBlock, Store};

fn block(address: &str, host: Option<&str>, since: i64, until: Option<i64>, dry: bool) -> NewBlock {
    NewBlock {
        address: address.into(),
        host: host.map(str::to_string),
        service: "app".into(),
        reason: "rate".into(),
        hits: 51,
        dry_run: dry,
        created_by: "test".into(),
        since_ms: since,
        until_ms: until,
    }
}

async fn settings_and_blocks(store: Store) {
    assert_eq!(
        store.protection_settings().await.unwrap(),
        Settings::default()
    );
    let mut s = Settings::default();
    s.rate.limit = 7;
    s.allowlist.push("10.0.0.0/8".parse().unwrap());
    store.set_protection_settings(&s, "admin", 1).await.unwrap();
    store.set_protection_settings(&s, "admin", 2).await.unwrap();
    assert_eq!(store.protection_settings().await.unwrap(), s);

    let live = store
        .add_block(&block(
            "127.0.0.5",
            Some("web-1"),
            1_000,
            Some(10_000),
            false,
        ))
        .await
        .unwrap();
    let forever = store
        .add_block(&block("198.51.100.0/24", None, 2_000, None, false))
        .await
        .unwrap();
    let dry = store
        .add_block(&block("127.0.0.9", Some("web-1"), 3_000, Some(4_000), true))
        .await
        .unwrap();
    let old = store
        .add_block(&block("127.0.0.8", None, 100, Some(200), false))
        .await
        .unwrap();
    // In force at 5,000 or begun since 1,000: newest first.
    let ids: Vec<i64> = store
        .blocks(1_000, 100)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, [dry, forever, live]);
    let b = store.block(forever).await.unwrap().unwrap();
    assert!(b.host.is_none() && b.until_ms.is_none() && !b.dry_run && b.active(5_000));
    assert!(store.block(dry).await.unwrap().unwrap().dry_run);
    assert!(!store.block(old).await.unwrap().unwrap().active(5_000));
    assert!(store.remove_block(live, "admin", 5_000).await.unwrap());
    assert!(
        !store.remove_block(live, "admin", 5_001).await.unwrap(),
        "once"
    );
    assert!(
        !store.remove_block(old, "admin", 5_000).await.unwrap(),
        "over already"
    );
    let b = store.block(live).await.unwrap().unwrap();
    assert_eq!(
        (b.removed_by.as_deref(), b.removed_ms),
        (Some("admin"), Some(5_000))
    );
    assert!(!b.active(5_000));
    // Ended blocks drop out unless they began in the window.
    let ids: Vec<i64> = store
        .blocks(20_000, 100)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, [forever]);
}

async fn hits_activity_and_addresses(store: Store) {
    let hits = |a: &str, s: &str| (a.to_string(), s.to_string(), 2);
    store
        .record_bad_paths(
            "web-1",
            &[hits("127.0.0.8", "app"), hits("127.0.0.9", "app")],
            1_000,
        )
        .await
        .unwrap();
    store
        .record_bad_paths(
            "web-2",
            &[hits("127.0.0.8", "app"), hits("127.0.0.8", "api")],
            2_000,
        )
        .await
        .unwrap();
    store
        .record_bad_paths("web-2", &[hits("127.0.0.8", "app")], 2_500)
        .await
        .unwrap();
    assert_eq!(store.bad_path_spread("127.0.0.8", 0).await.unwrap(), 3);
    assert_eq!(store.bad_path_spread("127.0.0.8", 1_500).await.unwrap(), 2);
    assert_eq!(store.bad_path_spread("127.0.0.9", 1_500).await.unwrap(), 0);
    assert_eq!(store.prune_bad_paths(1_500).await.unwrap(), 2);

    let act = |a: &str, s: &str, r: u32, e: u32| Activity {
        address: a.parse().unwrap(),
        service: s.into(),
        requests: r,
        errors: e,
        bad_paths: 0,
    };
    store
        .record_activity(
            "web-1",
            &[
                act("127.0.0.5", "app", 900, 3),
                act("127.0.0.6", "app", 10, 0),
            ],
            1_000,
        )
        .await
        .unwrap();
    store
        .record_activity("web-2", &[act("127.0.0.6", "api", 2_000, 400)], 2_000)
        .await
        .unwrap();
    let top = store.top_activity(0, 10).await.unwrap();
    let rows: Vec<(&str, i64, i64, i64)> = top
        .iter()
        .map(|r| (r.address.as_str(), r.requests, r.errors, r.places))
        .collect();
    assert_eq!(
        rows,
        [("127.0.0.6", 2_010, 400, 2), ("127.0.0.5", 900, 3, 1)]
    );
    assert_eq!(store.top_activity(1_500, 10).await.unwrap().len(), 1);

    let id = |c: CreateAgent| match c {
        CreateAgent::Created(id) => id,
        other => panic!("{other:?}"),
    };
    let new = |name: &str| NewAgent {
        name: name.into(),
        key_hash: format!("hash-{name}"),
        kind: "remote".into(),
        inventory: None,
    };
    let a = id(store.create_agent(&new("web-1"), 1).await.unwrap());
    let b = id(store.create_agent(&new("web-2"), 1).await.unwrap());
    assert!(store.agent_addresses().await.unwrap().is_empty());
    assert!(store.set_agent_address(a, "192.0.2.1").await.unwrap());
    assert!(
        !store.set_agent_address(a, "192.0.2.1").await.unwrap(),
        "unchanged"
    );
    assert!(store.set_agent_address(b, "192.0.2.1").await.unwrap());
    assert_eq!(store.agent_addresses().await.unwrap(), ["192.0.2.1"]);
    assert!(store.set_agent_address(b, "2001:db8::1").await.unwrap());
    store.revoke_agent("web-1", 2).await.unwrap();
    assert_eq!(store.agent_addresses().await.unwrap(), ["2001:db8::1"]);
}

contract!(settings_and_blocks, hits_activity_and_addresses);
