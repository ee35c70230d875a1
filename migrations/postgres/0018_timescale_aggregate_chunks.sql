-- TimescaleDB: the continuous aggregates' materialization tables get
-- 1-day chunks like `samples` (the default is ten times the raw chunk
-- interval), so retention drops their expired buckets as soon as it drops
-- the samples instead of up to ten days later. Chunks that already exist
-- keep their interval until they expire.
DO $$
BEGIN
    IF (SELECT value FROM storage_meta WHERE key = 'layout') = 'timescaledb' THEN
        PERFORM set_chunk_time_interval(
                    format('%I.%I', materialization_hypertable_schema,
                           materialization_hypertable_name)::regclass,
                    INTERVAL '1 day')
        FROM timescaledb_information.continuous_aggregates
        WHERE view_name IN ('samples_5m', 'samples_1h');
    END IF;
END $$;
