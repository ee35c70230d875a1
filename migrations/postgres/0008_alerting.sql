-- Alerting (see server/src/storage/alerts.rs). Alert states and their
-- transitions' history and notifications are written in one transaction
-- per rule evaluation, so a crash loses or repeats nothing.

-- Last evaluation of each alerting rule, for restart tolerance.
CREATE TABLE alert_rule_evals (
    rule         TEXT PRIMARY KEY,
    last_eval_ms BIGINT NOT NULL
);

-- Pending and firing alerts: labels as canonical JSON (sorted keys).
CREATE TABLE alert_states (
    rule             TEXT    NOT NULL,
    labels           TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'firing')),
    active_at_ms     BIGINT  NOT NULL,
    fired_at_ms      BIGINT,
    last_seen_ms     BIGINT  NOT NULL,
    value            DOUBLE PRECISION,
    last_notified_ms BIGINT,
    PRIMARY KEY (rule, labels)
);

CREATE TABLE alert_history (
    id       BIGSERIAL PRIMARY KEY,
    ts_ms    BIGINT  NOT NULL,
    rule     TEXT    NOT NULL,
    labels   TEXT    NOT NULL,
    change   TEXT    NOT NULL,
    value    DOUBLE PRECISION,
    severity TEXT    NOT NULL
);
CREATE INDEX alert_history_ts ON alert_history (ts_ms);

-- The durable outbox: a notification is written before it is sent and
-- marked sent only after the receiver accepted it (parts_sent counts the
-- parts of a split Telegram message already accepted).
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    created_ms      BIGINT  NOT NULL,
    channel         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    payload         TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    parts_sent      BIGINT  NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT  NOT NULL,
    sent_ms         BIGINT,
    failed_ms       BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_ms) WHERE sent_ms IS NULL AND failed_ms IS NULL;
