-- Compressed chunks (issue 23): once a 2-hour window (w, w + 2h] has
-- closed, each series' rows of that window move here, Gorilla-encoded
-- (server/src/storage/chunk.rs), at most 4096 samples a chunk. A chunk
-- never spans two windows. Rows may still arrive for a compacted window
-- (backfill); they are read together with its chunks and merged into
-- them by the next compaction step.
CREATE TABLE sample_chunks (
    series_id INTEGER NOT NULL,
    first_ts  INTEGER NOT NULL,
    last_ts   INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    data      BLOB    NOT NULL,
    PRIMARY KEY (series_id, first_ts)
) WITHOUT ROWID;
-- Retention and rollup rebuilds find chunks by time across series.
CREATE INDEX sample_chunks_time ON sample_chunks (first_ts);

-- Compacted windows that received rows since, waiting to be merged.
-- `marks` counts the ingests that marked it: a step that walked the
-- window removes it only if no ingest marked it again meanwhile.
CREATE TABLE compact_dirty (
    window_ms INTEGER PRIMARY KEY,
    marks     INTEGER NOT NULL
);
