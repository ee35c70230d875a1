-- Compressed chunks for the plain layout (issue 23; see
-- migrations/sqlite/0024_sample_chunks.sql and storage/compaction.rs):
-- closed 2-hour windows of each series move here from `samples`,
-- Gorilla-encoded. TimescaleDB keeps rows, compressed by the extension,
-- so raw samples stay queryable with SQL there; its tables stay empty.
CREATE TABLE sample_chunks (
    series_id bigint NOT NULL,
    first_ts  bigint NOT NULL,
    last_ts   bigint NOT NULL,
    count     bigint NOT NULL,
    data      bytea  NOT NULL,
    PRIMARY KEY (series_id, first_ts)
);
-- Encoded samples do not compress further: keep them out of pglz.
ALTER TABLE sample_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX sample_chunks_time ON sample_chunks (first_ts);

CREATE TABLE compact_dirty (
    window_ms bigint PRIMARY KEY,
    marks     bigint NOT NULL
);
