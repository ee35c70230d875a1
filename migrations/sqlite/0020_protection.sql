-- Traffic protection: the fleet's settings (one JSON document,
-- dozor_common::protection::Settings), every block (made by an agent's
-- rule, by the server's fleet rule or by an admin; kept after it ends, as
-- history) and the bad-path hits agents report, which the fleet rule
-- reads.
CREATE TABLE protection_settings (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    settings   TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- host NULL: on every host (fleet and manual blocks).
CREATE TABLE waf_blocks (
    id         INTEGER PRIMARY KEY,
    address    TEXT    NOT NULL,
    host       TEXT,
    service    TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    hits       INTEGER NOT NULL,
    dry_run    BOOLEAN NOT NULL,
    created_by TEXT    NOT NULL,
    since_ms   INTEGER NOT NULL,
    until_ms   INTEGER,
    removed_by TEXT,
    removed_ms INTEGER
);
CREATE INDEX waf_blocks_since ON waf_blocks (since_ms);
CREATE INDEX waf_blocks_address ON waf_blocks (address);

CREATE TABLE waf_bad_paths (
    address TEXT    NOT NULL,
    host    TEXT    NOT NULL,
    service TEXT    NOT NULL,
    hits    INTEGER NOT NULL,
    ts_ms   INTEGER NOT NULL
);
CREATE INDEX waf_bad_paths_address ON waf_bad_paths (address, ts_ms);
CREATE INDEX waf_bad_paths_ts ON waf_bad_paths (ts_ms);

-- Each interval's busiest addresses per service, as agents report them
-- (kept a day), for the Security screen.
CREATE TABLE waf_activity (
    address   TEXT    NOT NULL,
    host      TEXT    NOT NULL,
    service   TEXT    NOT NULL,
    requests  INTEGER NOT NULL,
    errors    INTEGER NOT NULL,
    bad_paths INTEGER NOT NULL,
    ts_ms     INTEGER NOT NULL
);
CREATE INDEX waf_activity_ts ON waf_activity (ts_ms);

-- Where each agent's heartbeats come from: dozor's own addresses are never
-- blocked.
ALTER TABLE agents ADD COLUMN address TEXT;
