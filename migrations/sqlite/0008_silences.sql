-- Silences: label matchers (JSON) muting notifications between two times
-- (see server/src/alerting/silence.rs).
CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    matchers   TEXT    NOT NULL,
    starts_ms  INTEGER  NOT NULL,
    ends_ms    INTEGER  NOT NULL,
    author     TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    created_ms INTEGER  NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_ms);
