-- Silences: label matchers (JSON) muting notifications between two times
-- (see server/src/alerting/silence.rs).
CREATE TABLE silences (
    id         BIGSERIAL PRIMARY KEY,
    matchers   TEXT    NOT NULL,
    starts_ms  BIGINT  NOT NULL,
    ends_ms    BIGINT  NOT NULL,
    author     TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    created_ms BIGINT  NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_ms);
