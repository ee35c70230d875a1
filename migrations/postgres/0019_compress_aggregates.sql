-- TimescaleDB: the continuous aggregates are compressed too (segmented by
-- series, as the samples are). Uncompressed, the 5-minute aggregate cost
-- more than the compressed samples themselves (BENCHMARKS.md, issue 16).
-- The extension requires compress_after beyond the refresh policies'
-- start_offset (3 days); the server refreshes compressed ranges as well
-- (backfills, late samples).
DO $$
BEGIN
    IF (SELECT value FROM storage_meta WHERE key = 'layout') = 'timescaledb' THEN
        EXECUTE 'ALTER MATERIALIZED VIEW samples_5m SET (timescaledb.compress = true)';
        EXECUTE 'ALTER MATERIALIZED VIEW samples_1h SET (timescaledb.compress = true)';
        PERFORM add_compression_policy('samples_5m', compress_after => INTERVAL '4 days');
        PERFORM add_compression_policy('samples_1h', compress_after => INTERVAL '4 days');
    END IF;
END $$;
