-- Autoscaling: one policy per service (dozor_common::autoscale::Policy as
-- JSON), and every decision and action with its reason: scales (by a
-- policy or by hand, dry-run or not) with the task that carries them and
-- its result, and skips when their reason changes.
CREATE TABLE autoscale_policies (
    service    TEXT    PRIMARY KEY,
    spec       TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE autoscale_events (
    id          INTEGER PRIMARY KEY,
    service     TEXT    NOT NULL,
    ts_ms       INTEGER NOT NULL,
    -- 'scale' or 'skip'
    kind        TEXT    NOT NULL,
    direction   TEXT    NOT NULL,
    from_n      INTEGER NOT NULL,
    to_n        INTEGER NOT NULL,
    value       REAL,
    reason      TEXT    NOT NULL,
    dry_run     INTEGER NOT NULL DEFAULT 0,
    -- who asked: 'policy' or a user's name
    actor       TEXT    NOT NULL,
    task_id     INTEGER,
    -- NULL while the host works on it; 'ok' or the failure
    result      TEXT,
    finished_ms INTEGER
);
CREATE INDEX autoscale_events_service ON autoscale_events (service, ts_ms);
