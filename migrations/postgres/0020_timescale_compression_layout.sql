-- TimescaleDB: compressed data laid out for size (BENCHMARKS.md, issue 16).
--
-- * The continuous aggregates were compressed in the extension's default
--   order for them, (bucket, series_id): consecutive values in a batch
--   came from different series, which float compression cannot use.
--   Ordered by (series_id, bucket) they take 2.4 times less.
--   Chunks compressed earlier keep their order until they expire.
-- * A compressed batch holds at most 1,000 rows by default: six batches a
--   day for a series scraped every 15 s, each with its own headers and
--   metadata (0.36 bytes/sample of 1.72 on a recorded node_exporter mix).
--   Up to 10,000 rows keep a day of a 10 s series in one batch. The limit
--   is read from the session that compresses, so it is set for dozor's
--   role in this database, where the extension's policy jobs (which run
--   as the role that created them) and any manual compress_chunk pick it
--   up. A role that may not set it keeps the default, with a notice.
DO $$
BEGIN
    IF (SELECT value FROM storage_meta WHERE key = 'layout') = 'timescaledb' THEN
        EXECUTE 'ALTER MATERIALIZED VIEW samples_5m SET (timescaledb.compress_segmentby = '''',
                 timescaledb.compress_orderby = ''series_id, bucket'')';
        EXECUTE 'ALTER MATERIALIZED VIEW samples_1h SET (timescaledb.compress_segmentby = '''',
                 timescaledb.compress_orderby = ''series_id, bucket'')';
        BEGIN
            EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I SET timescaledb.compression_batch_size_limit = 10000',
                           current_database());
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'cannot set timescaledb.compression_batch_size_limit for this role: %', SQLERRM;
        END;
    END IF;
END $$;
