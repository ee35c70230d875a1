//! Reading samples, series and rollups from PostgreSQL.

use super::{chunks, clamp_ts, Layout, PgStore};
use crate::storage::compaction;
use crate::storage::rollup::{Coverage, Resolution};
use crate::storage::sqlite::{labels_json, parse_labels};
use crate::storage::{Result, RollupPoint, SampleReader, SeriesInfo};
use async_trait::async_trait;
use dozor_common::{Labels, Sample};
use sqlx::Row;
use std::collections::HashMap;
use tracing::instrument;

fn series_info(r: &sqlx::postgres::PgRow) -> Result<SeriesInfo> {
    Ok(SeriesInfo {
        id: r.get(0),
        metric: r.get(1),
        labels: parse_labels(r.get(2))?,
    })
}

/// A sample row (series, ms, value, NULL) or a chunk (series, first_ts,
/// NULL, data).
type RowOrChunk = (i64, i64, Option<f64>, Option<Vec<u8>>);

/// Samples of `ids` with `start <= ts <= end`, from rows and, on the
/// plain layout, chunks.
pub(super) async fn samples_in(
    conn: &mut sqlx::PgConnection,
    layout: Layout,
    ids: &[i64],
    start_ms: i64,
    end_ms: i64,
) -> Result<HashMap<i64, Vec<Sample>>> {
    if layout == Layout::Timescale {
        let rows: Vec<(i64, i64, f64)> = sqlx::query_as(
            "SELECT series_id, dozor_ms(ts), value FROM samples
             WHERE series_id = ANY($1) AND ts >= dozor_ts($2) AND ts <= dozor_ts($3)
             ORDER BY series_id, ts",
        )
        .bind(ids)
        .bind(clamp_ts(start_ms))
        .bind(clamp_ts(end_ms))
        .fetch_all(&mut *conn)
        .await?;
        let mut out: HashMap<i64, Vec<Sample>> = HashMap::new();
        for (id, t, v) in rows {
            out.entry(id).or_default().push(Sample::new(t, v));
        }
        return Ok(out);
    }
    // Rows and chunks in one statement: one round trip, and one snapshot,
    // so a compaction step committing meanwhile is seen either wholly or
    // not at all. A chunk lies inside one window, so one reaching `start`
    // begins after `start - WINDOW_MS`.
    let found: Vec<RowOrChunk> = sqlx::query_as(
        "SELECT series_id, dozor_ms(ts), value, NULL::bytea FROM samples
          WHERE series_id = ANY($1) AND ts >= dozor_ts($2) AND ts <= dozor_ts($3)
         UNION ALL
         SELECT series_id, first_ts, NULL::float8, data FROM sample_chunks
          WHERE series_id = ANY($1) AND first_ts > $4 AND first_ts <= $3 AND last_ts >= $2",
    )
    .bind(ids)
    .bind(clamp_ts(start_ms))
    .bind(clamp_ts(end_ms))
    .bind(start_ms.saturating_sub(compaction::WINDOW_MS))
    .fetch_all(&mut *conn)
    .await?;
    assemble(found, start_ms, end_ms)
}

/// Rows and chunks, as read together, into each series' samples.
fn assemble(
    found: impl IntoIterator<Item = RowOrChunk>,
    start_ms: i64,
    end_ms: i64,
) -> Result<HashMap<i64, Vec<Sample>>> {
    let mut rows: HashMap<i64, Vec<Sample>> = HashMap::new();
    let mut blobs = Vec::new();
    for (id, t, v, data) in found {
        match data {
            Some(d) => blobs.push((id, t, d)),
            None => rows
                .entry(id)
                .or_default()
                .push(Sample::new(t, v.unwrap_or(f64::NAN))),
        }
    }
    // UNION ALL promises no order.
    for r in rows.values_mut() {
        if !r.is_sorted_by_key(|s| s.ts_ms) {
            r.sort_unstable_by_key(|s| s.ts_ms);
        }
    }
    let chunked = chunks::decode(blobs, start_ms, end_ms)?;
    compaction::merge_into(&mut rows, chunked);
    Ok(rows)
}

/// A series (id, metric, labels, its place in find_series's order) or,
/// with no metric, what [`RowOrChunk`] holds.
type SelectRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<f64>,
    Option<Vec<u8>>,
);

/// Which series a lookup finds: `$1` the metric, `$2` the labels they
/// include. Written out per case, not as `($1 IS NULL OR metric = $1)`:
/// after five runs PostgreSQL may keep a generic plan, which for that form
/// cannot use the metric index and walked every series (14 ms instead of
/// 0.1 ms).
fn series_filter(metric: Option<&str>, equal: &Labels) -> &'static str {
    match (metric.is_some(), equal.is_empty()) {
        (true, true) => "metric = $1",
        (true, false) => "metric = $1 AND labels @> $2::jsonb",
        (false, true) => "$1::text IS NULL",
        (false, false) => "$1::text IS NULL AND labels @> $2::jsonb",
    }
}

/// The series of [`SampleReader::find_series`] with their samples and
/// chunks, in one statement. The series are read once (a materialized
/// CTE) and the samples only while fewer than `limit` match.
const SELECT_PLAIN: &str = "WITH s AS MATERIALIZED (
    SELECT id, metric, labels::text AS labels,
           row_number() OVER (ORDER BY metric, labels::text) AS k FROM series
     WHERE {filter}
     ORDER BY metric, labels::text LIMIT $3),
  n AS (SELECT count(*) AS n FROM s)
  SELECT id, metric, labels, k, NULL::float8, NULL::bytea FROM s
  UNION ALL
  SELECT series_id, NULL, NULL, dozor_ms(ts), value, NULL FROM samples
   WHERE series_id IN (SELECT id FROM s) AND (SELECT n FROM n) < $3
     AND ts >= dozor_ts($4) AND ts <= dozor_ts($5)
  UNION ALL
  SELECT series_id, NULL, NULL, first_ts, NULL, data FROM sample_chunks
   WHERE series_id IN (SELECT id FROM s) AND (SELECT n FROM n) < $3
     AND first_ts > $6 AND first_ts <= $5 AND last_ts >= $4";

/// The same for TimescaleDB, which keeps rows only. `$6` (the chunks'
/// lower bound) is bound for both and named here only so the statement
/// takes the same parameters.
const SELECT_TIMESCALE: &str = "WITH s AS MATERIALIZED (
    SELECT id, metric, labels::text AS labels,
           row_number() OVER (ORDER BY metric, labels::text) AS k FROM series
     WHERE {filter}
     ORDER BY metric, labels::text LIMIT $3),
  n AS (SELECT count(*) AS n FROM s)
  SELECT id, metric, labels, k, NULL::float8, NULL::bytea FROM s
  UNION ALL
  SELECT series_id, NULL, NULL, dozor_ms(ts), value, NULL FROM samples
   WHERE series_id IN (SELECT id FROM s) AND (SELECT n FROM n) < $3
     AND ts >= dozor_ts($4) AND ts <= dozor_ts($5) AND $6::int8 IS NOT NULL";

#[async_trait]
impl SampleReader for PgStore {
    #[instrument(skip_all, fields(backend = "postgres"))]
    async fn find_series(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
    ) -> Result<Vec<SeriesInfo>> {
        let sql = format!(
            "SELECT id, metric, labels::text FROM series WHERE {}
             ORDER BY metric, labels::text LIMIT $3",
            series_filter(metric, equal)
        );
        let rows = sqlx::query(&sql)
            .bind(metric)
            .bind(labels_json(equal))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(series_info).collect()
    }

    #[instrument(skip_all, fields(backend = "postgres"))]
    async fn select(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(Vec<SeriesInfo>, HashMap<i64, Vec<Sample>>)> {
        let sql = match self.layout() {
            Layout::Timescale => SELECT_TIMESCALE,
            Layout::Partitioned => SELECT_PLAIN,
        }
        .replace("{filter}", series_filter(metric, equal));
        let found: Vec<SelectRow> = sqlx::query_as(&sql)
            .bind(metric)
            .bind(labels_json(equal))
            .bind(limit as i64)
            .bind(clamp_ts(start_ms))
            .bind(clamp_ts(end_ms))
            .bind(start_ms.saturating_sub(compaction::WINDOW_MS))
            .fetch_all(&self.pool)
            .await?;
        let mut series = Vec::new();
        let mut data = Vec::with_capacity(found.len());
        for (id, metric, labels, t, v, blob) in found {
            match (metric, labels, t) {
                (Some(metric), Some(labels), Some(k)) => series.push((
                    k,
                    SeriesInfo {
                        id,
                        metric,
                        labels: parse_labels(&labels)?,
                    },
                )),
                (None, None, Some(t)) => data.push((id, t, v, blob)),
                _ => {}
            }
        }
        // UNION ALL promises no order: find_series's is restored.
        series.sort_unstable_by_key(|(k, _)| *k);
        let series = series.into_iter().map(|(_, s)| s).collect();
        Ok((series, assemble(data, start_ms, end_ms)?))
    }

    async fn series_by_id(&self, id: i64) -> Result<Option<SeriesInfo>> {
        let row = sqlx::query("SELECT id, metric, labels::text FROM series WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(series_info).transpose()
    }

    #[instrument(skip_all, fields(backend = "postgres", series = ids.len()))]
    async fn samples_many(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<HashMap<i64, Vec<Sample>>> {
        let mut conn = self.pool.acquire().await?;
        samples_in(&mut conn, self.layout(), ids, start_ms, end_ms).await
    }

    #[instrument(skip_all, fields(backend = "postgres", series = ids.len()))]
    async fn rollups_many(
        &self,
        ids: &[i64],
        res: Resolution,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<HashMap<i64, Vec<RollupPoint>>> {
        // TimescaleDB labels a left-open bucket by its first millisecond
        // (see migrations/postgres/0003_left_open_rollups.sql).
        let shift: i64 = if self.layout() == Layout::Timescale {
            1
        } else {
            0
        };
        let sql = format!(
            "SELECT series_id, dozor_ms(bucket) - $4, min, max, sum, count, nan, last FROM {}
             WHERE series_id = ANY($1) AND bucket >= dozor_ts($2 + $4) AND bucket <= dozor_ts($3 + $4)
             ORDER BY series_id, bucket",
            res.table()
        );
        let rows: Vec<(i64, i64, f64, f64, f64, i64, i64, f64)> = sqlx::query_as(&sql)
            .bind(ids)
            .bind(clamp_ts(start_ms))
            .bind(clamp_ts(end_ms))
            .bind(shift)
            .fetch_all(&self.pool)
            .await?;
        let mut out: HashMap<i64, Vec<RollupPoint>> = HashMap::new();
        for (id, bucket_ms, min, max, sum, count, nan, last) in rows {
            out.entry(id).or_default().push(RollupPoint {
                bucket_ms,
                min,
                max,
                sum,
                count,
                nan,
                last,
            });
        }
        Ok(out)
    }

    async fn series_with_samples(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<std::collections::HashSet<i64>> {
        let found: Vec<i64> = sqlx::query_scalar(
            "SELECT s.id FROM unnest($1::int8[]) AS s(id) WHERE EXISTS
               (SELECT 1 FROM samples v WHERE v.series_id = s.id
                  AND v.ts >= dozor_ts($2) AND v.ts <= dozor_ts($3))",
        )
        .bind(ids)
        .bind(clamp_ts(start_ms))
        .bind(clamp_ts(end_ms))
        .fetch_all(&self.pool)
        .await?;
        let mut found: std::collections::HashSet<i64> = found.into_iter().collect();
        if self.layout() == Layout::Partitioned {
            let rest: Vec<i64> = ids.iter().copied().filter(|i| !found.contains(i)).collect();
            let mut conn = self.pool.acquire().await?;
            found.extend(chunks::with_samples(&mut conn, &rest, start_ms, end_ms).await?);
        }
        Ok(found)
    }

    /// The same on both layouts: with TimescaleDB the server refreshes the
    /// continuous aggregates itself and moves this watermark only after
    /// (see `maintenance::timescale_step`); their real-time part and the
    /// extension's refresh jobs are never relied on.
    async fn rollup_coverage(&self) -> Result<Coverage> {
        // One round trip: every query that may read rollups asks.
        let (watermark, dirty): (Option<i64>, Vec<i64>) = sqlx::query_as(
            "SELECT (SELECT watermark_ms FROM rollup_state WHERE name = '5m'),
                    ARRAY(SELECT bucket_ms FROM rollup_dirty ORDER BY bucket_ms)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Coverage {
            watermark_ms: watermark.unwrap_or(i64::MIN),
            dirty,
        })
    }

    async fn series_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM series")
            .fetch_one(&self.pool)
            .await?)
    }
}
