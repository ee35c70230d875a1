//! End to end: a real server on port 0 and the collector's agent loop,
//! pushing the fixture host (checked-in copies of real /proc files) over
//! HTTP, then the expected series and values in storage.

use crate::support;

use dozor_common::Labels;
use dozor_server::storage::Store;
use std::time::Duration;
use support::agents::start_agent;
use support::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn value(store: &Store, metric: &str, l: &[(&str, &str)]) -> Option<f64> {
    let found = store
        .find_series(Some(metric), &labels(l), 2)
        .await
        .unwrap();
    assert!(found.len() <= 1, "{metric}{l:?} is ambiguous: {found:?}");
    let s = found.first()?;
    store
        .samples(s.id, 0, now_ms() + 60_000)
        .await
        .unwrap()
        .last()
        .map(|p| p.value)
}

async fn fixture_host_lands_in_storage(server: dozor_server::Server) {
    let (agent, stop) = start_agent(&server, "fixture-host", Duration::from_secs(3600)).await;
    let store = server.store.clone();
    let h = ("host", "fixture-host");
    let user = eventually(20, || {
        let store = store.clone();
        async move {
            value(
                &store,
                "node_cpu_seconds_total",
                &[h, ("cpu", "0"), ("mode", "user")],
            )
            .await
        }
    })
    .await;
    assert_eq!(user, 123.83);
    let v = |m: &'static str, l: Vec<(&'static str, &'static str)>| {
        let store = store.clone();
        async move { value(&store, m, &l).await }
    };
    assert_eq!(
        v(
            "node_cpu_seconds_total",
            vec![h, ("cpu", "1"), ("mode", "iowait")]
        )
        .await,
        Some(9.31)
    );
    assert_eq!(
        v("node_memory_MemTotal_bytes", vec![h]).await,
        Some(24_684_084.0 * 1024.0)
    );
    assert_eq!(
        v("node_memory_Active_anon_bytes", vec![h]).await,
        Some(1524.0 * 1024.0)
    );
    assert_eq!(v("node_load1", vec![h]).await, Some(1.91));
    assert_eq!(v("node_load15", vec![h]).await, Some(0.29));
    assert_eq!(
        v("node_context_switches_total", vec![h]).await,
        Some(2_476_342.0)
    );
    assert_eq!(
        v("node_boot_time_seconds", vec![h]).await,
        Some(1_795_328_366.0)
    );
    assert_eq!(v("node_procs_running", vec![h]).await, Some(3.0));
    assert_eq!(
        v(
            "node_network_receive_bytes_total",
            vec![h, ("device", "eth0")]
        )
        .await,
        Some(207_968_691.0)
    );
    assert_eq!(
        v(
            "node_network_transmit_bytes_total",
            vec![h, ("device", "veth9f3a2b1")]
        )
        .await,
        Some(987_654_321.0)
    );
    assert_eq!(
        v("node_disk_read_bytes_total", vec![h, ("device", "vda")]).await,
        Some(3_587_818.0 * 512.0)
    );
    assert_eq!(
        v(
            "node_disk_io_time_seconds_total",
            vec![h, ("device", "vda")]
        )
        .await,
        Some(13.124)
    );
    assert_eq!(
        v("node_pressure_cpu_waiting_seconds_total", vec![h]).await,
        Some(33.865186)
    );
    let fs = vec![
        h,
        ("device", "/dev/vda"),
        ("fstype", "ext4"),
        ("mountpoint", "/"),
    ];
    assert!(v("node_filesystem_size_bytes", fs.clone()).await.unwrap() > 0.0);
    assert!(v("node_filesystem_avail_bytes", fs).await.is_some());
    assert_eq!(v("dozor_collector_passes_total", vec![h]).await, Some(1.0));
    // Excluded devices never arrive.
    assert!(store
        .find_series(
            Some("node_disk_reads_completed_total"),
            &labels(&[("device", "loop0")]),
            1
        )
        .await
        .unwrap()
        .is_empty());
    let a = store.agent_by_name("fixture-host").await.unwrap().unwrap();
    assert!(a.last_seen_ms.is_some());
    assert_eq!(a.inventory.unwrap()["cpu_model"], "AMD EPYC");
    // What the agent announced reads back on both backends (PostgreSQL's
    // INTEGER protocol column once failed to decode, emptying the Agents
    // page there).
    let caps = eventually(10, || {
        let store = store.clone();
        async move { store.capabilities(a.id).await.unwrap() }
    })
    .await;
    assert_eq!(caps.protocol, dozor_common::protocol::PROTOCOL_VERSION);
    let stored = store
        .find_series(None, &labels(&[h]), 10_000)
        .await
        .unwrap()
        .len();
    // The agent counts what it sent once it has the server's answer, which
    // can come a moment after the rows are visible.
    let sent = eventually(10, || {
        let agent = agent.clone();
        async move {
            let n = agent
                .stats()
                .samples_sent
                .load(std::sync::atomic::Ordering::Relaxed) as usize;
            (n > 0).then_some(n)
        }
    })
    .await;
    assert_eq!(sent, stored);
    stop.cancel();
    server.shutdown().await;
}

#[tokio::test]
async fn fixture_host_lands_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    fixture_host_lands_in_storage(spawn_server(&dir, None).await).await;
}

#[tokio::test]
async fn fixture_host_lands_in_postgres() {
    let Some(db) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    fixture_host_lands_in_storage(spawn_server(&dir, Some(&db.url)).await).await;
}

/// Storage goes away for a while: the server answers 503, the agent keeps
/// its passes and delivers every one of them once storage is back.
#[tokio::test]
async fn agent_keeps_samples_through_a_storage_outage() {
    let Some(db) = pg_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, Some(&db.url)).await;
    let (agent, stop) = start_agent(&server, "fixture-host", Duration::from_secs(1)).await;
    let store = server.store.clone();
    let load1 = |store: Store| async move {
        let s = store
            .find_series(Some("node_load1"), &Labels::new(), 1)
            .await
            .ok()?;
        let s = s.first()?;
        Some(store.samples(s.id, 0, now_ms() + 60_000).await.ok()?.len())
    };
    eventually(20, || load1(store.clone())).await;
    db.take_down().await;
    let passes_before = agent
        .stats()
        .passes
        .load(std::sync::atomic::Ordering::Relaxed);
    eventually(20, || {
        let a = agent.clone();
        async move {
            let s = a.stats();
            let retried = s.send_retry.load(std::sync::atomic::Ordering::Relaxed) > 0;
            (retried && s.passes.load(std::sync::atomic::Ordering::Relaxed) >= passes_before + 3)
                .then_some(())
        }
    })
    .await;
    db.bring_up().await;
    let passes_at_recovery = agent
        .stats()
        .passes
        .load(std::sync::atomic::Ordering::Relaxed);
    // Every pass made so far ends up stored: one node_load1 sample each.
    let stored = eventually(30, || {
        let store = store.clone();
        async move {
            load1(store)
                .await
                .filter(|n| *n as u64 >= passes_at_recovery)
        }
    })
    .await;
    assert!(stored as u64 >= passes_at_recovery);
    assert_eq!(
        agent
            .stats()
            .dropped_queue_full
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    stop.cancel();
    server.shutdown().await;
}
