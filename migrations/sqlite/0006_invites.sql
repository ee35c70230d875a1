-- One-time invitations: an admin picks the role, the invitee picks the
-- name and password (see server/src/storage/invites.rs). Only the SHA-256
-- of the link's token is kept.
CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_by  TEXT    NOT NULL,
    created_ms  INTEGER  NOT NULL,
    expires_ms  INTEGER  NOT NULL,
    used_ms     INTEGER,
    used_by     TEXT,
    revoked_ms  INTEGER
);
