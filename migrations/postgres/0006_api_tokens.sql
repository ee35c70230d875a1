-- API tokens for scripts, Grafana and remote_write (see
-- server/src/storage/api_tokens.rs). Only the SHA-256 of a token is kept.
CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_ms   BIGINT  NOT NULL,
    expires_ms   BIGINT,
    last_used_ms BIGINT,
    revoked_ms   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
