-- Rollup buckets keep NaN samples apart from numbers (issue 17): `count`
-- counts numbers, `nan` counts NaN samples, min/max/sum are over the
-- numbers (NaN, NaN and 0 when there are none) and `last` is the latest
-- sample, NaN included. Staleness markers (a NaN with Prometheus's bit
-- pattern, told apart by float8send) are not samples. A window holding
-- NaN then answers from buckets as Prometheus does from samples. Buckets
-- built before skipped NaN altogether: they are rebuilt from the raw
-- samples (watermark reset; the server refreshes both layouts itself).
DO $$
BEGIN
    IF (SELECT value FROM storage_meta WHERE key = 'layout') = 'timescaledb' THEN
        DROP MATERIALIZED VIEW samples_1h;
        DROP MATERIALIZED VIEW samples_5m;

        CREATE MATERIALIZED VIEW samples_5m
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT series_id,
                   time_bucket(INTERVAL '5 minutes', ts, INTERVAL '1 millisecond') AS bucket,
                   coalesce(min(value) FILTER (WHERE value <> 'NaN'), 'NaN') AS min,
                   coalesce(max(value) FILTER (WHERE value <> 'NaN'), 'NaN') AS max,
                   coalesce(sum(value) FILTER (WHERE value <> 'NaN'), 0) AS sum,
                   count(*) FILTER (WHERE value <> 'NaN') AS count,
                   count(*) FILTER (WHERE value = 'NaN') AS nan,
                   last(value, ts) AS last
            FROM samples
            WHERE NOT (value = 'NaN' AND float8send(value) = '\x7ff0000000000002'::bytea)
            GROUP BY series_id, time_bucket(INTERVAL '5 minutes', ts, INTERVAL '1 millisecond')
            WITH NO DATA;
        PERFORM add_continuous_aggregate_policy('samples_5m',
            start_offset => INTERVAL '3 days', end_offset => INTERVAL '5 minutes',
            schedule_interval => INTERVAL '5 minutes');

        CREATE MATERIALIZED VIEW samples_1h
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT series_id,
                   time_bucket(INTERVAL '1 hour', bucket, INTERVAL '1 millisecond') AS bucket,
                   coalesce(min(min) FILTER (WHERE count > 0), 'NaN') AS min,
                   coalesce(max(max) FILTER (WHERE count > 0), 'NaN') AS max,
                   sum(sum) AS sum, sum(count)::bigint AS count, sum(nan)::bigint AS nan,
                   last(last, bucket) AS last
            FROM samples_5m
            GROUP BY series_id, time_bucket(INTERVAL '1 hour', bucket, INTERVAL '1 millisecond')
            WITH NO DATA;
        PERFORM add_continuous_aggregate_policy('samples_1h',
            start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
            schedule_interval => INTERVAL '30 minutes');

        -- As 0018, 0019 and 0020 left them.
        PERFORM set_chunk_time_interval(
                    format('%I.%I', materialization_hypertable_schema,
                           materialization_hypertable_name)::regclass,
                    INTERVAL '1 day')
        FROM timescaledb_information.continuous_aggregates
        WHERE view_name IN ('samples_5m', 'samples_1h');
        EXECUTE 'ALTER MATERIALIZED VIEW samples_5m SET (timescaledb.compress = true,
                 timescaledb.compress_segmentby = '''', timescaledb.compress_orderby = ''series_id, bucket'')';
        EXECUTE 'ALTER MATERIALIZED VIEW samples_1h SET (timescaledb.compress = true,
                 timescaledb.compress_segmentby = '''', timescaledb.compress_orderby = ''series_id, bucket'')';
        PERFORM add_compression_policy('samples_5m', compress_after => INTERVAL '4 days');
        PERFORM add_compression_policy('samples_1h', compress_after => INTERVAL '4 days');
    ELSE
        ALTER TABLE samples_5m ADD COLUMN nan bigint NOT NULL DEFAULT 0;
        ALTER TABLE samples_1h ADD COLUMN nan bigint NOT NULL DEFAULT 0;
        TRUNCATE samples_5m, samples_1h;
    END IF;
    DELETE FROM rollup_dirty;
    DELETE FROM rollup_state WHERE name = '5m';
END $$;
