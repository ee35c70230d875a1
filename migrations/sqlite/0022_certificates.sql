-- Certificates: which services must hold one and where from (ACME or an
-- upload), a "renew now" counter and the revoke switch, plus the last
-- report from the service's host (dozor_common::certs::Report as JSON).
-- Keys are never stored here: they are made, or installed once, on the
-- host. The fleet's ACME account settings are one row.
CREATE TABLE certificates (
    service      TEXT    PRIMARY KEY,
    host         TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    renew        INTEGER NOT NULL DEFAULT 0,
    revoke       INTEGER NOT NULL DEFAULT 0,
    report       TEXT,
    reported_ms  INTEGER,
    requested_by TEXT    NOT NULL,
    requested_ms INTEGER NOT NULL
);
CREATE INDEX certificates_host ON certificates (host);

CREATE TABLE acme_account (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    spec       TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);
