//! Rollups of compacted windows on plain PostgreSQL: SQL cannot read
//! chunks, so below the compaction watermark the 5-minute buckets are
//! computed here from chunks and rows together (as the SQLite store
//! does), for the series holding samples there.

use super::read::samples_in;
use super::Layout;
use crate::storage::compaction::{self, WINDOW_MS};
use crate::storage::Result;
use sqlx::PgConnection;

pub(super) async fn rollup_5m_merged(tx: &mut PgConnection, from: i64, to: i64) -> Result<u64> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT s.id FROM series s WHERE EXISTS
           (SELECT 1 FROM samples v WHERE v.series_id = s.id
              AND v.ts > dozor_ts($1) AND v.ts <= dozor_ts($2))
         UNION
         SELECT series_id FROM sample_chunks WHERE first_ts > $3 AND first_ts <= $2 AND last_ts > $1",
    )
    .bind(from)
    .bind(to)
    .bind(from.saturating_sub(WINDOW_MS))
    .fetch_all(&mut *tx)
    .await?;
    let mut written = 0;
    for part in ids.chunks(1000) {
        let samples = samples_in(&mut *tx, Layout::Partitioned, part, from + 1, to).await?;
        let mut cols = Columns::default();
        for (id, s) in samples {
            let s: Vec<(i64, f64)> = s.iter().map(|s| (s.ts_ms, s.value)).collect();
            for p in compaction::five_minute_rollups(&s) {
                cols.push(id, p);
            }
        }
        // As the SQL path stores them: NaN min and max and a 0 sum for a
        // bucket of NaN samples only, and a NaN last value as it is.
        written += sqlx::query(
            "INSERT INTO samples_5m (series_id, bucket, min, max, sum, count, nan, last)
             SELECT id, dozor_ts(b), mn, mx, sm, c, n, l
             FROM UNNEST($1::int8[], $2::int8[], $3::float8[], $4::float8[], $5::float8[],
                         $6::int8[], $7::int8[], $8::float8[]) AS u(id, b, mn, mx, sm, c, n, l)
             ON CONFLICT (series_id, bucket) DO UPDATE SET min = EXCLUDED.min, max = EXCLUDED.max,
                 sum = EXCLUDED.sum, count = EXCLUDED.count, nan = EXCLUDED.nan, last = EXCLUDED.last",
        )
        .bind(&cols.id)
        .bind(&cols.bucket)
        .bind(&cols.min)
        .bind(&cols.max)
        .bind(&cols.sum)
        .bind(&cols.count)
        .bind(&cols.nan)
        .bind(&cols.last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    Ok(written)
}

#[derive(Default)]
struct Columns {
    id: Vec<i64>,
    bucket: Vec<i64>,
    min: Vec<f64>,
    max: Vec<f64>,
    sum: Vec<f64>,
    count: Vec<i64>,
    nan: Vec<i64>,
    last: Vec<f64>,
}

impl Columns {
    fn push(&mut self, id: i64, p: crate::storage::RollupPoint) {
        let numbers = p.count > 0;
        self.id.push(id);
        self.bucket.push(p.bucket_ms);
        self.min.push(if numbers { p.min } else { f64::NAN });
        self.max.push(if numbers { p.max } else { f64::NAN });
        self.sum.push(if numbers { p.sum } else { 0.0 });
        self.count.push(p.count);
        self.nan.push(p.nan);
        self.last.push(p.last);
    }
}
