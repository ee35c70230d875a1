//! The agent protocol over real HTTP: every status code of the contract.

use crate::support;

use serde_json::json;
use support::*;

fn batch(host: Option<&str>, ts: i64) -> serde_json::Value {
    let mut labels = json!({"job": "node"});
    if let Some(h) = host {
        labels["host"] = json!(h);
    }
    json!({"series": [{"name": "node_load1", "labels": labels, "samples": [[ts, 0.5], [ts + 1000, "NaN"]]}]})
}

#[tokio::test]
async fn enrol_then_heartbeat_is_stored_once_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "web-1").await;
    let ts = now_ms() - 5_000;
    let r = post_heartbeat(&base, Some(&key), zstd_json(&batch(None, ts)), Some("zstd")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["stored_samples"], 2);
    // Re-sent (e.g. after a lost response): nothing stored twice.
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&serde_json::to_vec(&batch(None, ts)).unwrap())
            .unwrap();
        e.finish().unwrap()
    };
    let r = post_heartbeat(&base, Some(&key), gz, Some("gzip")).await;
    assert_eq!(
        (r.status, r.json["stored_samples"].as_u64()),
        (200, Some(0))
    );

    let http = api_client(&server).await;
    let series: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/series?metric=node_load1&label=host=web-1"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let s = &series["series"][0];
    assert_eq!(
        s["labels"],
        json!({"host": "web-1", "job": "node"}),
        "host stamped from the key"
    );
    let id = s["id"].as_i64().unwrap();
    let samples: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/series/{id}/samples?start={}&end={}",
            ts - 1,
            ts + 1000
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(samples["samples"], json!([[ts, 0.5], [ts + 1000, "NaN"]]));
    let agents: serde_json::Value = http
        .get(format!("{base}/api/v1/agents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(agents["agents"][0]["name"], "web-1");
    assert_eq!(agents["agents"][0]["status"], "online");
    let bad = http
        .get(format!("{base}/api/v1/series?label=nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let missing = http
        .get(format!("{base}/api/v1/series/99999/samples"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_missing_and_revoked_keys_are_401() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let body = || zstd_json(&batch(None, now_ms()));
    assert_eq!(
        post_heartbeat(&base, None, body(), Some("zstd"))
            .await
            .status,
        401
    );
    let r = post_heartbeat(&base, Some("dzk_nope"), body(), Some("zstd")).await;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (401, Some("unknown agent key"))
    );
    let key = enroll(&base, &enroll_token(&server), "web-1").await;
    assert_eq!(
        post_heartbeat(&base, Some(&key), body(), Some("zstd"))
            .await
            .status,
        200
    );
    assert!(server.store.revoke_agent("web-1", now_ms()).await.unwrap());
    let r = post_heartbeat(&base, Some(&key), body(), Some("zstd")).await;
    assert_eq!(r.status, 401);
    assert!(
        r.json["error"].as_str().unwrap().contains("revoked"),
        "{}",
        r.json
    );
    server.shutdown().await;
}

#[tokio::test]
async fn enrolment_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let client = dozor_collector::http::ServerClient::new(&base).unwrap();
    let inv = dozor_common::protocol::HostInventory::default();
    let e = client
        .enroll("dze_wrong", "web-1", inv.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(e, dozor_collector::http::EnrollError::BadToken(_)),
        "{e}"
    );
    assert!(!e.is_transient());
    let token = enroll_token(&server);
    enroll(&base, &token, "web-1").await;
    let e = client
        .enroll(&token, "web-1", inv.clone())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already enrolled"), "{e}");
    let e = client
        .enroll(&token, "bad name!", inv.clone())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("agent name"), "{e}");
    // A rotated token: the old one stops working.
    dozor_server::app::new_enroll_token(&server.store, &dir.path().join("data"))
        .await
        .unwrap();
    server.store.revoke_enroll_tokens(now_ms()).await.unwrap();
    let e = client.enroll(&token, "web-2", inv).await.unwrap_err();
    assert!(
        matches!(e, dozor_collector::http::EnrollError::BadToken(_)),
        "{e}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn writing_another_hosts_series_is_403() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let key = enroll(&server.url(), &enroll_token(&server), "web-1").await;
    let r = post_heartbeat(
        &server.url(),
        Some(&key),
        zstd_json(&batch(Some("db-1"), now_ms())),
        Some("zstd"),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json["field"], "series[0].labels.host");
    // Naming itself is fine.
    let r = post_heartbeat(
        &server.url(),
        Some(&key),
        zstd_json(&batch(Some("web-1"), now_ms())),
        Some("zstd"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        server
            .store
            .find_series(None, &Default::default(), 10)
            .await
            .unwrap()
            .len(),
        1,
        "nothing from the refused batch"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn oversize_bodies_and_zip_bombs_are_413() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let key = enroll(&server.url(), &enroll_token(&server), "web-1").await;
    let big: Vec<u8> = (0..9 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let r = post_heartbeat(&server.url(), Some(&key), big, Some("zstd")).await;
    assert_eq!(r.status, 413, "{}", r.json);
    // 100 MiB of spaces compress to a few KiB: refused after decompression.
    let bomb = zstd::bulk::compress(&vec![b' '; 100 << 20], 19).unwrap();
    assert!(bomb.len() < 1 << 20);
    let r = post_heartbeat(&server.url(), Some(&key), bomb, Some("zstd")).await;
    assert_eq!(r.status, 413);
    assert!(
        r.json["error"].as_str().unwrap().contains("decompressed"),
        "{}",
        r.json
    );
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_fault() {
    // A body that does not decode is refused whole; a bad series or sample
    // in a body that does is refused alone (tests/hostile_ingest.rs).
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "web-1").await;
    let send = |body: Vec<u8>, enc: Option<&'static str>| {
        let (base, key) = (base.clone(), key.clone());
        async move { post_heartbeat(&base, Some(&key), body, enc).await }
    };
    let r = send(b"{\"series\": [".to_vec(), None).await;
    assert_eq!(r.status, 400);
    assert!(
        r.json["error"].as_str().unwrap().contains("line 1 column"),
        "{}",
        r.json
    );

    let r = send(
        zstd_json(&json!({"series": [{"name": "x", "samples": [[1, true]]}]})),
        Some("zstd"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json["field"]
            .as_str()
            .unwrap()
            .starts_with("series[0].samples"),
        "{}",
        r.json
    );

    assert_eq!(send(b"{}".to_vec(), Some("br")).await.status, 400);
    assert_eq!(
        send(b"\x28\xb5\x2f\xfdjunk".to_vec(), Some("zstd"))
            .await
            .status,
        400
    );
    // Nothing was stored by any of them.
    assert_eq!(server.store.series_count().await.unwrap(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn too_many_heartbeats_are_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.rate_limits.agent_per_second = 1;
        c.rate_limits.agent_burst = 2;
    })
    .await;
    let key = enroll(&server.url(), &enroll_token(&server), "web-1").await;
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..4 {
        let r = post_heartbeat(
            &server.url(),
            Some(&key),
            zstd_json(&batch(None, now_ms())),
            Some("zstd"),
        )
        .await;
        statuses.push(r.status);
        retry = retry.or(r.retry_after);
    }
    assert_eq!(&statuses[..2], &[200, 200]);
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    server.shutdown().await;
}

#[tokio::test]
async fn tasks_ride_on_heartbeats_and_results_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let key = enroll(&server.url(), &enroll_token(&server), "web-1").await;
    let agent = server.store.agent_by_name("web-1").await.unwrap().unwrap();
    let id = server
        .store
        .enqueue_task(
            &dozor_server::storage::NewTask {
                agent_id: agent.id,
                kind: "noop".into(),
                payload: json!({"x": 1}),
                idempotency_key: None,
            },
            now_ms(),
        )
        .await
        .unwrap();
    let r = post_heartbeat(
        &server.url(),
        Some(&key),
        zstd_json(&json!({})),
        Some("zstd"),
    )
    .await;
    assert_eq!(r.json["tasks"][0]["id"], id);
    assert_eq!(r.json["tasks"][0]["payload"], json!({"x": 1}));
    let result = json!({"task_results": [{"task_id": id, "ok": true, "message": "done"}]});
    let r = post_heartbeat(&server.url(), Some(&key), zstd_json(&result), Some("zstd")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["tasks"], json!([]));
    assert_eq!(server.store.task(id).await.unwrap().unwrap().status, "done");
    server.shutdown().await;
}

#[tokio::test]
async fn storage_down_is_503_and_recovers() {
    let Some(db) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, Some(&db.url)).await;
    let key = enroll(&server.url(), &enroll_token(&server), "web-1").await;
    let body = |ts| zstd_json(&batch(None, ts));
    assert_eq!(
        post_heartbeat(&server.url(), Some(&key), body(now_ms()), Some("zstd"))
            .await
            .status,
        200
    );
    db.take_down().await;
    let r = post_heartbeat(&server.url(), Some(&key), body(now_ms() + 1), Some("zstd")).await;
    assert_eq!(r.status, 503, "{}", r.json);
    assert_eq!(r.retry_after.as_deref(), Some("5"));
    assert!(
        !r.json["error"].as_str().unwrap().contains("pg_"),
        "no internals leak"
    );
    let ready = reqwest::get(format!("{}/readyz", server.url()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    db.bring_up().await;
    let r = eventually(15, || {
        let (url, key, b) = (server.url(), key.clone(), body(now_ms() + 2));
        async move {
            let r = post_heartbeat(&url, Some(&key), b, Some("zstd")).await;
            (r.status == 200).then_some(r)
        }
    })
    .await;
    assert_eq!(r.json["stored_samples"], 2);
    server.shutdown().await;
}
