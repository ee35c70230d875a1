-- Autoscaling: one policy per service (dozor_common::autoscale::Policy as
-- JSON), and every decision and action with its reason: scales (by a
-- policy or by hand, dry-run or not) with the task that carries them and
-- its result, and skips when their reason changes.
CREATE TABLE autoscale_policies (
    service    TEXT    PRIMARY KEY,
    spec       TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_ms BIGINT  NOT NULL
);

CREATE TABLE autoscale_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service     TEXT    NOT NULL,
    ts_ms       BIGINT  NOT NULL,
    -- 'scale' or 'skip'
    kind        TEXT    NOT NULL,
    direction   TEXT    NOT NULL,
    from_n      BIGINT  NOT NULL,
    to_n        BIGINT  NOT NULL,
    value       DOUBLE PRECISION,
    reason      TEXT    NOT NULL,
    dry_run     BIGINT  NOT NULL DEFAULT 0,
    -- who asked: 'policy' or a user's name
    actor       TEXT    NOT NULL,
    task_id     BIGINT,
    -- NULL while the host works on it; 'ok' or the failure
    result      TEXT,
    finished_ms BIGINT
);
CREATE INDEX autoscale_events_service ON autoscale_events (service, ts_ms);
