-- Everything but the samples: the series catalog, agents, enrolment
-- tokens, tasks and rollup bookkeeping. Catalog timestamps are Unix
-- milliseconds (bigint); only samples use timestamptz, for TimescaleDB.

CREATE TABLE storage_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE series (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint bigint NOT NULL UNIQUE,
    metric      text   NOT NULL,
    labels      jsonb  NOT NULL,
    created_ms  bigint NOT NULL
);
CREATE INDEX series_metric ON series (metric);
CREATE INDEX series_labels ON series USING gin (labels jsonb_path_ops);

CREATE TABLE agents (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text   NOT NULL UNIQUE,
    key_hash     text   NOT NULL UNIQUE,
    kind         text   NOT NULL,
    created_ms   bigint NOT NULL,
    last_seen_ms bigint,
    revoked_ms   bigint,
    inventory    jsonb
);

CREATE TABLE enroll_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash text   NOT NULL UNIQUE,
    created_ms bigint NOT NULL,
    revoked_ms bigint
);

CREATE TABLE tasks (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id        bigint NOT NULL REFERENCES agents (id),
    kind            text   NOT NULL,
    payload         jsonb  NOT NULL,
    status          text   NOT NULL DEFAULT 'pending',
    idempotency_key text   UNIQUE,
    created_ms      bigint NOT NULL,
    delivered_ms    bigint,
    finished_ms     bigint,
    result          jsonb
);
CREATE INDEX tasks_agent_status ON tasks (agent_id, status);

CREATE TABLE rollup_state (
    name         text PRIMARY KEY,
    watermark_ms bigint NOT NULL
);

CREATE TABLE rollup_dirty (
    bucket_ms bigint PRIMARY KEY
);

-- Millisecond <-> timestamptz conversions used by every sample query.
-- to_timestamp(double) rounds to microseconds, exact for millisecond input.
CREATE FUNCTION dozor_ts(ms bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_timestamp(ms::float8 / 1000);

CREATE FUNCTION dozor_ms(ts timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (extract(epoch FROM ts) * 1000)::bigint;
