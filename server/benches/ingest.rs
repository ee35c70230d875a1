//! End-to-end ingest benchmark (not a test): a load generator posts
//! heartbeats of 10k samples across 1k series to a real in-process server,
//! and the clock stops when every heartbeat is answered, i.e. committed.
//!
//!   cargo bench -p dozor-server --bench ingest
//!   DOZOR_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p dozor-server --bench ingest
//!
//! With PostgreSQL it also times a raw COPY of the same rows into an
//! identical table in the same run, and prints the ratio. Then every
//! heartbeat is sent again (an agent retrying after a lost answer): each
//! sample is then a duplicate, which costs a check that it carries the
//! stored value.

use dozor_common::protocol::HeartbeatRequest;
use dozor_common::{Sample, SeriesBatch};
use dozor_server::{Config, Server};
use sqlx::Connection;
use std::time::{Duration, Instant};

const SERIES: usize = 1_000;
const PER_SERIES: usize = 10;
const AGENTS: usize = 4;

fn heartbeats(agent: usize, count: usize, t0: i64) -> Vec<Vec<u8>> {
    batches(agent, count, t0)
        .into_iter()
        .map(|series| {
            let req = HeartbeatRequest {
                series,
                ..Default::default()
            };
            zstd::bulk::compress(&serde_json::to_vec(&req).unwrap(), 3).unwrap()
        })
        .collect()
}

fn batches(agent: usize, count: usize, t0: i64) -> Vec<Vec<SeriesBatch>> {
    (0..count)
        .map(|h| {
            (0..SERIES)
                .map(|s| {
                    let labels = [
                        ("instance".to_string(), format!("svc-{s}:9100")),
                        ("job".into(), "bench".into()),
                    ]
                    .into_iter()
                    .collect();
                    let samples = (0..PER_SERIES)
                        .map(|i| {
                            let ts = t0 + ((h * PER_SERIES + i) as i64) * 1000 + agent as i64;
                            Sample::new(ts, (s * 31 + i) as f64 * 0.5)
                        })
                        .collect();
                    SeriesBatch::new(format!("bench_metric_{}", s % 50), labels, samples)
                })
                .collect()
        })
        .collect()
}

/// The storage write alone: the same batches straight into `append`,
/// without HTTP, decompression or JSON.
async fn direct_append(database_url: Option<&str>, per_agent: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url.map_or_else(
        || dir.path().join("d.db").display().to_string(),
        str::to_string,
    );
    let store = dozor_server::storage::open(&url, &Default::default())
        .await
        .unwrap();
    let t0 = dozor_server::clock::system_ms() - 3_600_000;
    let work: Vec<Vec<Vec<SeriesBatch>>> = (0..AGENTS)
        .map(|a| {
            let mut b = batches(a, per_agent, t0);
            for series in b.iter_mut().flatten() {
                series.labels.insert("host".into(), format!("direct-{a}"));
            }
            b
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for agent in work {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for b in agent {
                store
                    .append(&b, dozor_server::clock::system_ms())
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Run {
        samples: AGENTS * per_agent * SERIES * PER_SERIES,
        secs: started.elapsed().as_secs_f64(),
    }
}

struct Run {
    samples: usize,
    secs: f64,
}

/// Posts every agent's bodies once; the time until all are answered.
async fn post_all(url: &str, agents: &[(String, Vec<Vec<u8>>)]) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (key, bodies) in agents.iter().cloned() {
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for body in bodies {
                let r = http
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-encoding", "zstd")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// The first send and the same heartbeats sent again.
async fn http_ingest(database_url: Option<&str>, per_agent: usize) -> (Run, Run) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::for_data_dir(dir.path());
    cfg.local_collector = false;
    cfg.database_url = database_url.map(str::to_string);
    cfg.rate_limits.agent_per_second = 100_000;
    cfg.rate_limits.agent_burst = 100_000;
    let server = Server::start(cfg).await.unwrap();
    let token = std::fs::read_to_string(&server.enroll_token_path).unwrap();
    let client = dozor_collector::http::ServerClient::new(&server.url()).unwrap();
    let t0 = dozor_server::clock::system_ms() - 3_600_000;
    let mut agents = Vec::new();
    for a in 0..AGENTS {
        let inv = dozor_common::protocol::HostInventory::default();
        let key = client
            .enroll(token.trim(), &format!("bench-{a}"), inv)
            .await
            .unwrap()
            .agent_key;
        agents.push((key, heartbeats(a, per_agent, t0)));
    }
    let url = format!("{}/api/v1/agents/heartbeat", server.url());
    let secs = post_all(&url, &agents).await;
    let again = post_all(&url, &agents).await;
    let stored = server.store.series_count().await.unwrap();
    assert_eq!(stored as usize, SERIES * AGENTS);
    server.shutdown().await;
    let samples = AGENTS * per_agent * SERIES * PER_SERIES;
    (
        Run { samples, secs },
        Run {
            samples,
            secs: again,
        },
    )
}

/// Raw COPY of the same number of rows, in 10k-row COPY statements like the
/// heartbeats, into a table identical to a samples partition.
async fn raw_copy(db_url: &str, total_rows: usize) -> Run {
    let mut conn = sqlx::PgConnection::connect(db_url).await.unwrap();
    sqlx::query("DROP TABLE IF EXISTS bench_copy")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE bench_copy (ts timestamptz NOT NULL, series_id bigint NOT NULL, value double precision NOT NULL)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("CREATE UNIQUE INDEX ON bench_copy (series_id, ts)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("CREATE INDEX ON bench_copy USING brin (ts)")
        .execute(&mut conn)
        .await
        .unwrap();
    // The COPY input is built before the clock starts, in 10k-row chunks
    // (one per heartbeat), with ISO timestamps as COPY expects.
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT string_agg(to_char(to_timestamp((1790000000000 + g * 7) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') || '+00' || E'\\t' || ((g / 10) % 4000) || E'\\t' || (g * 0.5), E'\\n') || E'\\n'
         FROM generate_series(0, $1 - 1) g GROUP BY g / 10000 ORDER BY g / 10000",
    )
    .bind(total_rows as i64)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let started = Instant::now();
    for (chunk,) in &rows {
        let mut copy = conn
            .copy_in_raw("COPY bench_copy (ts, series_id, value) FROM STDIN")
            .await
            .unwrap();
        copy.send(chunk.as_bytes()).await.unwrap();
        copy.finish().await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM bench_copy")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n as usize, total_rows);
    Run {
        samples: total_rows,
        secs,
    }
}

async fn fresh_pg(admin: &str) -> String {
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("PostgreSQL for the benchmark");
    let name = format!(
        "dozor_bench_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    );
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

fn report(name: &str, r: &Run) -> f64 {
    let rate = r.samples as f64 / r.secs;
    println!(
        "{name:<34} {:>9} samples {:>8.2} s {:>12.0} samples/s",
        r.samples, r.secs, rate
    );
    rate
}

#[tokio::main]
async fn main() {
    let per_agent: usize = std::env::var("DOZOR_BENCH_HEARTBEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    println!("heartbeats of {} samples ({SERIES} series x {PER_SERIES}), {AGENTS} agents x {per_agent} heartbeats", SERIES * PER_SERIES);
    let (sqlite, resent) = http_ingest(None, per_agent).await;
    report("sqlite: HTTP ingest to commit", &sqlite);
    report("sqlite: the same, sent again", &resent);
    report(
        "sqlite: store.append only",
        &direct_append(None, per_agent).await,
    );
    let admin = std::env::var("DOZOR_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("DOZOR_TEST_DATABASE_URL"));
    let Ok(admin) = admin else {
        println!("set DOZOR_BENCH_DATABASE_URL to benchmark PostgreSQL");
        return;
    };
    let url = fresh_pg(&admin).await;
    let (pg, resent) = http_ingest(Some(&url), per_agent).await;
    let pg_rate = report("postgres: HTTP ingest to commit", &pg);
    report("postgres: the same, sent again", &resent);
    let direct_db = fresh_pg(&admin).await;
    report(
        "postgres: store.append only",
        &direct_append(Some(&direct_db), per_agent).await,
    );
    let copy = raw_copy(&url, pg.samples).await;
    let copy_rate = report("postgres: raw COPY, same rows", &copy);
    println!(
        "postgres ingest / raw COPY = {:.0}%",
        100.0 * pg_rate / copy_rate
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
}
