//! Row-per-sample against compressed chunks, on the same database engine
//! in the same run (issue 23's layout question). Not a test.
//!
//!   cargo bench -p dozor-server --bench chunk_layout
//!
//! The same samples (1 series × 24 h and 100 series × 6 h, at 15 s) are
//! stored twice: one row per sample with its primary key, as dozor's
//! stores keep them today, and as 2-hour chunks (`storage::chunk`, 480
//! samples in one row), each in its own SQLite file. Each read shape is
//! timed on both (best of 5), the chunks decoded, and each file's size
//! is printed.

use dozor_server::storage::chunk;
use sqlx::{Connection, Executor};
use std::time::Instant;

const SPAN_MS: i64 = 2 * 3_600_000;
const T0: i64 = 1_790_000_000_000;

/// (series id, samples): one series × 24 h, then 100 × 6 h.
fn data() -> Vec<(i64, Vec<(i64, f64)>)> {
    let mut out = vec![(
        0,
        (0..5760)
            .map(|i| (T0 + i * 15_000, (i % 97) as f64))
            .collect(),
    )];
    for s in 1..=100i64 {
        out.push((
            s,
            (0..1440)
                .map(|i| (T0 + 18 * 3_600_000 + i * 15_000, (i * (s % 7 + 1)) as f64))
                .collect(),
        ));
    }
    out
}

fn chunks(samples: &[(i64, f64)]) -> Vec<(i64, i64, Vec<u8>)> {
    samples
        .chunk_by(|a, b| a.0 / SPAN_MS == b.0 / SPAN_MS)
        .map(|c| (c[0].0, c[c.len() - 1].0, chunk::encode(c).expect("ordered")))
        .collect()
}

async fn open(path: &std::path::Path, schema: &str) -> sqlx::SqliteConnection {
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    c.execute(schema).await.unwrap();
    c
}

async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (rows_db, chunks_db) = (dir.path().join("rows.db"), dir.path().join("chunks.db"));
    let mut rows_c = open(&rows_db, "CREATE TABLE rows (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID").await;
    let mut chunks_c = open(&chunks_db, "CREATE TABLE chunks (series_id INTEGER NOT NULL, start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (series_id, start_ts)) WITHOUT ROWID").await;
    let data = data();
    let mut tx = rows_c.begin().await.unwrap();
    for (id, samples) in &data {
        for (t, v) in samples {
            sqlx::query("INSERT INTO rows VALUES (?, ?, ?)")
                .bind(id)
                .bind(t)
                .bind(v)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    let mut tx = chunks_c.begin().await.unwrap();
    for (id, samples) in &data {
        for (s, e, bytes) in chunks(samples) {
            sqlx::query("INSERT INTO chunks VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(s)
                .bind(e)
                .bind(bytes)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    for c in [&mut rows_c, &mut chunks_c] {
        c.execute("VACUUM; ANALYZE").await.unwrap();
    }

    for (name, ids, lo, hi) in [
        ("1 series x 24 h", vec![0i64], T0, T0 + 86_400_000),
        (
            "100 series x 6 h",
            (1..=100).collect::<Vec<i64>>(),
            T0 + 18 * 3_600_000,
            T0 + 24 * 3_600_000,
        ),
    ] {
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let rows_sql = format!("SELECT series_id, ts, value FROM rows WHERE series_id IN ({list}) AND ts >= ? AND ts <= ? ORDER BY series_id, ts");
        let chunks_sql = format!("SELECT series_id, data FROM chunks WHERE series_id IN ({list}) AND end_ts >= ? AND start_ts <= ? ORDER BY series_id, start_ts");
        let (mut r, mut n) = (f64::MAX, 0);
        for _ in 0..5 {
            let started = Instant::now();
            let rows: Vec<(i64, i64, Option<f64>)> = sqlx::query_as(&rows_sql)
                .bind(lo)
                .bind(hi)
                .fetch_all(&mut rows_c)
                .await
                .unwrap();
            n = rows.len();
            r = r.min(started.elapsed().as_secs_f64());
        }
        let (mut k, mut m) = (f64::MAX, 0);
        for _ in 0..5 {
            let started = Instant::now();
            let blobs: Vec<(i64, Vec<u8>)> = sqlx::query_as(&chunks_sql)
                .bind(lo)
                .bind(hi)
                .fetch_all(&mut chunks_c)
                .await
                .unwrap();
            let mut out = Vec::with_capacity(n);
            for (_, b) in &blobs {
                chunk::decode_into(b, lo, hi, &mut out).unwrap();
            }
            m = out.len();
            k = k.min(started.elapsed().as_secs_f64());
        }
        assert_eq!(n, m, "both layouts give the same samples");
        println!(
            "sqlite: read {name:<18} ({n} samples)  rows {:>7.2} ms   chunks {:>7.2} ms   rows/chunks {:>5.1}x",
            r * 1e3,
            k * 1e3,
            r / k
        );
    }
    let samples: usize = data.iter().map(|(_, s)| s.len()).sum();
    let kib = |p: &std::path::Path| std::fs::metadata(p).unwrap().len() as f64 / 1024.0;
    println!(
        "sqlite: {samples} samples on disk: rows {:.0} KiB ({:.1} bytes a sample), chunks {:.0} KiB ({:.1} bytes a sample)",
        kib(&rows_db),
        kib(&rows_db) * 1024.0 / samples as f64,
        kib(&chunks_db),
        kib(&chunks_db) * 1024.0 / samples as f64
    );
}

#[tokio::main]
async fn main() {
    sqlite().await;
}
