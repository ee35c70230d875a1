-- dozor's embedded store. Timestamps are Unix milliseconds (INTEGER).
-- NaN cannot be stored in a SQLite REAL (it becomes NULL), so a NULL
-- sample value means NaN.

CREATE TABLE storage_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per series: metric name plus sorted labels (JSON object).
CREATE TABLE series (
    id          INTEGER PRIMARY KEY,
    fingerprint INTEGER NOT NULL UNIQUE,
    metric      TEXT    NOT NULL,
    labels      TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX series_metric ON series (metric);

-- The primary key makes a re-sent sample a no-op (idempotent ingest).
CREATE TABLE samples (
    series_id INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    value     REAL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

-- Rollups maintained by the server (see server/src/storage/rollup.rs).
CREATE TABLE samples_5m (
    series_id INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    min       REAL,
    max       REAL,
    sum       REAL,
    count     INTEGER NOT NULL,
    last      REAL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;

CREATE TABLE samples_1h (
    series_id INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    min       REAL,
    max       REAL,
    sum       REAL,
    count     INTEGER NOT NULL,
    last      REAL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;

CREATE TABLE rollup_state (
    name         TEXT PRIMARY KEY,
    watermark_ms INTEGER NOT NULL
);

-- 5-minute buckets below the watermark that received late samples.
CREATE TABLE rollup_dirty (
    bucket_ms INTEGER PRIMARY KEY
);

CREATE TABLE agents (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    key_hash     TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER,
    revoked_ms   INTEGER,
    inventory    TEXT
);

CREATE TABLE enroll_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);

CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY,
    agent_id        INTEGER NOT NULL REFERENCES agents (id),
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    idempotency_key TEXT    UNIQUE,
    created_ms      INTEGER NOT NULL,
    delivered_ms    INTEGER,
    finished_ms     INTEGER,
    result          TEXT
);
CREATE INDEX tasks_agent_status ON tasks (agent_id, status);
