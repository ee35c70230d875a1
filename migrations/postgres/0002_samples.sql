-- Samples and rollups, in one of two layouts recorded in storage_meta:
--
-- 'timescaledb' when the extension can be created:
--   * samples is a hypertable with 1-day chunks;
--   * compression segmented by series_id, ordered by ts, after 2 days;
--   * samples_5m and samples_1h are continuous aggregates (min, max, sum,
--     count, last) refreshed by policies; like the server-maintained
--     rollups they skip NaN samples (staleness markers);
--   * the retention policy is set by the server at start (--retention).
--
-- 'partitioned' otherwise (plain PostgreSQL >= 14):
--   * samples is range-partitioned by day; the server creates partitions
--     ahead (dozor_ensure_partition) and drops expired ones;
--   * samples_5m and samples_1h are tables the server keeps up to date.
--
-- Both layouts expose the same columns, so queries do not care which.
DO $$
DECLARE
    have_timescale boolean := false;
BEGIN
    -- Installed but not preloaded, CREATE EXTENSION raises a FATAL error
    -- that ends the connection (no handler runs): check both first.
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND coalesce(current_setting('shared_preload_libraries', true), '') ~ '(^|[\s,])timescaledb($|[\s,])' THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            have_timescale := true;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'timescaledb cannot be created: %', SQLERRM;
        END;
    ELSIF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb is installed but not in shared_preload_libraries: using plain PostgreSQL';
    END IF;

    IF have_timescale THEN
        CREATE TABLE samples (
            ts        timestamptz      NOT NULL,
            series_id bigint           NOT NULL,
            value     double precision NOT NULL
        );
        PERFORM create_hypertable('samples', 'ts', chunk_time_interval => INTERVAL '1 day');
        CREATE UNIQUE INDEX samples_series_ts ON samples (series_id, ts);
        ALTER TABLE samples SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'series_id',
            timescaledb.compress_orderby = 'ts'
        );
        PERFORM add_compression_policy('samples', INTERVAL '2 days');

        CREATE MATERIALIZED VIEW samples_5m WITH (timescaledb.continuous) AS
            SELECT series_id,
                   time_bucket(INTERVAL '5 minutes', ts) AS bucket,
                   min(value) AS min, max(value) AS max, sum(value) AS sum,
                   count(*) AS count, last(value, ts) AS last
            FROM samples
            WHERE value <> 'NaN'
            GROUP BY series_id, time_bucket(INTERVAL '5 minutes', ts)
            WITH NO DATA;
        PERFORM add_continuous_aggregate_policy('samples_5m',
            start_offset => INTERVAL '3 days', end_offset => INTERVAL '5 minutes',
            schedule_interval => INTERVAL '5 minutes');

        CREATE MATERIALIZED VIEW samples_1h WITH (timescaledb.continuous) AS
            SELECT series_id,
                   time_bucket(INTERVAL '1 hour', bucket) AS bucket,
                   min(min) AS min, max(max) AS max, sum(sum) AS sum,
                   sum(count)::bigint AS count, last(last, bucket) AS last
            FROM samples_5m
            GROUP BY series_id, time_bucket(INTERVAL '1 hour', bucket)
            WITH NO DATA;
        PERFORM add_continuous_aggregate_policy('samples_1h',
            start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
            schedule_interval => INTERVAL '30 minutes');

        INSERT INTO storage_meta VALUES ('layout', 'timescaledb');
    ELSE
        CREATE TABLE samples (
            ts        timestamptz      NOT NULL,
            series_id bigint           NOT NULL,
            value     double precision NOT NULL
        ) PARTITION BY RANGE (ts);
        CREATE UNIQUE INDEX samples_series_ts ON samples (series_id, ts);
        -- Rollup passes scan by time; BRIN is tiny and fits append-mostly data.
        CREATE INDEX samples_ts_brin ON samples USING brin (ts);

        CREATE TABLE samples_5m (
            series_id bigint           NOT NULL,
            bucket    timestamptz      NOT NULL,
            min       double precision NOT NULL,
            max       double precision NOT NULL,
            sum       double precision NOT NULL,
            count     bigint           NOT NULL,
            last      double precision NOT NULL,
            PRIMARY KEY (series_id, bucket)
        );
        CREATE TABLE samples_1h (LIKE samples_5m INCLUDING ALL);

        INSERT INTO storage_meta VALUES ('layout', 'partitioned');
    END IF;
END $$;

-- Creates the partition holding `day` (UTC) if it is missing.
CREATE FUNCTION dozor_ensure_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'samples_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF samples FOR VALUES FROM (%L) TO (%L)',
        part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
    RETURN true;
END $$;

-- Drops partitions whose whole day ends at or before `cutoff`.
CREATE FUNCTION dozor_drop_partitions_before(cutoff timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'samples'::regclass AND c.relname ~ '^samples_p[0-9]{8}$'
    LOOP
        IF ((to_date(substr(part.relname, 10), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC') <= cutoff THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END $$;
