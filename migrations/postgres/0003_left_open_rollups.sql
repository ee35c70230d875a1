-- Rollup buckets become left-open: bucket b holds the samples with
-- b < ts <= b + width, like PromQL's range windows (t - r, t], so a query
-- can answer avg/sum/count/min/max/last_over_time exactly from buckets.
--
-- 'partitioned': the server-maintained tables are emptied and the
-- watermark reset, so the next passes rebuild them under the new rule.
--
-- 'timescaledb': the continuous aggregates are recreated with
-- time_bucket(width, ts, offset => 1 ms) (buckets [b + 1 ms, b + width + 1 ms),
-- the same set for millisecond samples; needs TimescaleDB >= 2.14) and
-- real-time aggregation (materialized_only = false), so a query sees
-- buckets newer than the last refresh. The server subtracts the 1 ms when
-- it reads. History older than the policy's start_offset (3 days) is only
-- materialized by a manual
--   CALL refresh_continuous_aggregate('samples_5m', NULL, NULL);
--   CALL refresh_continuous_aggregate('samples_1h', NULL, NULL);
DO $$
BEGIN
    IF (SELECT value FROM storage_meta WHERE key = 'layout') = 'timescaledb' THEN
        DROP MATERIALIZED VIEW samples_1h;
        DROP MATERIALIZED VIEW samples_5m;

        CREATE MATERIALIZED VIEW samples_5m
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT series_id,
                   time_bucket(INTERVAL '5 minutes', ts, INTERVAL '1 millisecond') AS bucket,
                   min(value) AS min, max(value) AS max, sum(value) AS sum,
                   count(*) AS count, last(value, ts) AS last
            FROM samples
            WHERE value <> 'NaN'
            GROUP BY series_id, time_bucket(INTERVAL '5 minutes', ts, INTERVAL '1 millisecond')
            WITH NO DATA;
        PERFORM add_continuous_aggregate_policy('samples_5m',
            start_offset => INTERVAL '3 days', end_offset => INTERVAL '5 minutes',
            schedule_interval => INTERVAL '5 minutes');

        CREATE MATERIALIZED VIEW samples_1h
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT series_id,
                   time_bucket(INTERVAL '1 hour', bucket, INTERVAL '1 millisecond') AS bucket,
                   min(min) AS min, max(max) AS max, sum(sum) AS sum,
                   sum(count)::bigint AS count, last(last, bucket) AS last
            FROM samples_5m
            GROUP BY series_id, time_bucket(INTERVAL '1 hour', bucket, INTERVAL '1 millisecond')
            WITH NO DATA;
        PERFORM add_continuous_aggregate_policy('samples_1h',
            start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
            schedule_interval => INTERVAL '30 minutes');
    ELSE
        TRUNCATE samples_5m, samples_1h;
        DELETE FROM rollup_dirty;
        DELETE FROM rollup_state WHERE name = '5m';
    END IF;
END $$;
