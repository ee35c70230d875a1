-- Checks: probes users define for any URL or address, each one JSON
-- document (dozor_common::checks::Check), run by the agents it names.
CREATE TABLE checks (
    name       TEXT    PRIMARY KEY,
    spec       TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);
