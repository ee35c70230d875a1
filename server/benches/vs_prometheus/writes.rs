//! remote_write in Prometheus's shape, to dozor and to Prometheus, with a
//! raw COPY into the same PostgreSQL cluster as the floor.

use super::prometheus::Prometheus;
use super::{env_num, status_kb};
use dozor_server::remote_write::{Label, TimeSeries, WireSample, WriteRequest};
use dozor_server::Server;
use prost::Message;
use sqlx::Connection;
use std::time::{Duration, Instant};

/// remote_write bodies: `series` series × `per` samples each, request k
/// at timestamps after `t0`, in Prometheus's encoding (protobuf, snappy).
/// Prometheus takes nothing older than the blocks it was started on, so
/// `t0` is after the loaded data.
pub fn bodies(series: usize, per: usize, requests: usize, t0: i64, tag: &str) -> Vec<Vec<u8>> {
    (0..requests)
        .map(|k| {
            let timeseries = (0..series)
                .map(|s| TimeSeries {
                    labels: vec![
                        Label {
                            name: "__name__".into(),
                            value: format!("rw_{tag}_{}", s % 50),
                        },
                        Label {
                            name: "instance".into(),
                            value: format!("node-{}:9100", s / 50),
                        },
                        Label {
                            name: "job".into(),
                            value: "node".into(),
                        },
                    ],
                    samples: (0..per)
                        .map(|i| WireSample {
                            value: (s * 7 + k * per + i) as f64,
                            // A millisecond apart: seconds apart would
                            // run minutes into the future.
                            timestamp: t0 + (k * per + i) as i64,
                        })
                        .collect(),
                })
                .collect();
            let req = WriteRequest {
                timeseries,
                metadata: vec![],
            };
            snap::raw::Encoder::new()
                .compress_vec(&req.encode_to_vec())
                .unwrap()
        })
        .collect()
}

/// Senders, as a Prometheus's remote-write shards: each has its own
/// series and sends its requests in order (samples of one series must
/// arrive in order, and Prometheus refuses them otherwise).
pub const SHARDS: usize = 4;

/// One request list per shard, each over its own `series` series.
fn shards(series: usize, per: usize, requests: usize, t0: i64, tag: &str) -> Vec<Vec<Vec<u8>>> {
    (0..SHARDS)
        .map(|k| bodies(series, per, requests, t0, &format!("{tag}s{k}")))
        .collect()
}

/// Posts one body until it is taken. As Prometheus does, 5xx and 429
/// are retried; anything else fails the bench.
pub async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: Vec<u8>) {
    loop {
        let mut r = http
            .post(url)
            .header("content-encoding", "snappy")
            .header("content-type", "application/x-protobuf")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(body.clone());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        if status.is_success() {
            return;
        }
        let text = resp.text().await.unwrap_or_default();
        assert!(
            status.is_server_error() || status.as_u16() == 429,
            "{url}: {status} {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts every shard's bodies, shards concurrently; samples per second,
/// from the first post to the last answer.
async fn write_all(
    url: &str,
    token: Option<&str>,
    shards: Vec<Vec<Vec<u8>>>,
    samples: usize,
) -> f64 {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for bodies in shards {
        let (http, url) = (http.clone(), url.to_string());
        let token = token.map(str::to_string);
        tasks.push(tokio::spawn(async move {
            for body in bodies {
                post(&http, &url, token.as_deref(), body).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    samples as f64 / started.elapsed().as_secs_f64()
}

/// Raw COPY of `rows` rows into a table shaped like dozor's samples
/// (with its unique index), in the same cluster, one statement per
/// request's worth of rows; the input is made before the clock starts.
async fn raw_copy(db_url: &str, rows: usize, per_statement: usize) -> f64 {
    let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
    for sql in [
        "DROP TABLE IF EXISTS bench_copy",
        "CREATE TABLE bench_copy (ts timestamptz NOT NULL, series_id bigint NOT NULL, value double precision NOT NULL)",
        "CREATE UNIQUE INDEX ON bench_copy (series_id, ts)",
    ] {
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
    let chunks: Vec<(String,)> = sqlx::query_as(
        "SELECT string_agg(to_char(to_timestamp((1790000000000 + g / 2000) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') || '+00' || E'\\t' || (g % 2000) || E'\\t' || g, E'\\n') || E'\\n'
         FROM generate_series(0, $1 - 1) g GROUP BY g / $2 ORDER BY g / $2",
    )
    .bind(rows as i64)
    .bind(per_statement as i64)
    .fetch_all(&mut c)
    .await
    .unwrap();
    let started = Instant::now();
    for (chunk,) in &chunks {
        let mut copy = c
            .copy_in_raw("COPY bench_copy (ts, series_id, value) FROM STDIN")
            .await
            .unwrap();
        copy.send(chunk.as_bytes()).await.unwrap();
        copy.finish().await.unwrap();
    }
    let r = rows as f64 / started.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE bench_copy")
        .execute(&mut c)
        .await
        .unwrap();
    r
}

pub async fn writes(label: &str, server: &Server, prom: &Prometheus, db_url: Option<&str>) {
    let secs = env_num("DOZOR_BENCH_WRITE_SECS", 20) as f64;
    let token = std::fs::read_to_string(&server.remote_write_token_path)
        .unwrap()
        .trim()
        .to_string();
    for (shape, series, per) in [
        (
            "2,000 series x 1 sample per request, 4 shards",
            2000usize,
            1usize,
        ),
        ("2,000 series x 10 samples per request, 4 shards", 2000, 10),
    ] {
        // Sized from a short probe of dozor so each side runs about
        // DOZOR_BENCH_WRITE_SECS.
        let tag = format!("{}x{per}", label.len());
        let t0 = dozor_server::clock::system_ms();
        let probe = shards(series, per, 5, t0, &format!("p{tag}"));
        let rate = write_all(
            &format!("{}/prometheus/api/v1/write", server.url()),
            Some(&token),
            probe,
            SHARDS * series * per * 5,
        )
        .await;
        let requests = ((rate * secs) as usize / (SHARDS * series * per)).max(5);
        let total = SHARDS * requests * series * per;
        let body = shards(series, per, requests, t0, &tag);
        let rss0 = status_kb("self", "VmHWM:");
        let d = write_all(
            &format!("{}/prometheus/api/v1/write", server.url()),
            Some(&token),
            body.clone(),
            total,
        )
        .await;
        // An answered request may still wait in SQLite's ingest log: the
        // rate that counts is the one with the log filed too.
        let filing = Instant::now();
        server.store.flush().await.unwrap();
        let filed = total as f64 / (total as f64 / d + filing.elapsed().as_secs_f64());
        let rss = status_kb("self", "VmHWM:") - rss0;
        let p = write_all(&format!("{}/api/v1/write", prom.url), None, body, total).await;
        let copy = match db_url {
            Some(u) => {
                let r = raw_copy(u, total, series * per).await;
                format!(
                    "   raw COPY {r:>9.0}/s (dozor {:.0}% of it)",
                    filed / r * 100.0
                )
            }
            None => String::new(),
        };
        println!(
            "{label}: remote_write {shape:<40} dozor {filed:>9.0}/s filed ({d:.0}/s answered)   prometheus {p:>9.0}/s   ratio {:.2}x   ({total} samples, peak RSS +{rss} KiB){copy}",
            filed / p
        );
    }
}
