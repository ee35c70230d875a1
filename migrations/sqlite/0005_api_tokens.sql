-- API tokens for scripts, Grafana and remote_write (see
-- server/src/storage/api_tokens.rs). Only the SHA-256 of a token is kept.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER,
    last_used_ms INTEGER,
    revoked_ms   INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
