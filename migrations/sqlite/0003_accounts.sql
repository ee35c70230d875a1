-- Users, sessions and the audit log (see server/src/storage/accounts.rs).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

-- Sessions by the SHA-256 of their id (the id itself is only in the
-- signed cookie).
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    revoked_ms   INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    ts_ms  INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT,
    detail TEXT,
    ip     TEXT
);
CREATE INDEX audit_log_ts ON audit_log (ts_ms);
