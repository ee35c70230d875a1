-- Metric metadata (type, help, unit) as senders report it: Prometheus's
-- remote_write carries it. One row per metric family, the latest report
-- winning; served by /prometheus/api/v1/metadata.
CREATE TABLE metric_metadata (
    metric     TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    help       TEXT    NOT NULL,
    unit       TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);
