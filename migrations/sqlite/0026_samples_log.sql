-- The ingest log (issue 23). An ingest writes its new samples here as one
-- row (series id, timestamp and value bits, 24 bytes a sample) and into
-- an in-memory head that queries read; a background flush moves them
-- into `samples` a batch of requests at a time, sorted by series, so that
-- a series' new samples share its leaf page instead of writing one page
-- per sample. The server replays this table into the head when it opens.
-- AUTOINCREMENT: a flush empties the table, and a reused number would
-- read as already flushed.
CREATE TABLE samples_log (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL
);
