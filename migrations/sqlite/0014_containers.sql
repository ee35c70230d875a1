-- Each host's containers as its collector last reported them (one JSON
-- document per container, keyed by name so a recreated container keeps
-- its page), and their history: Docker's events and the changes the
-- server saw between inventories.
CREATE TABLE containers (
    agent_id   INTEGER NOT NULL REFERENCES agents (id),
    name       TEXT    NOT NULL,
    info       TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (agent_id, name)
);

CREATE TABLE container_events (
    id        INTEGER PRIMARY KEY,
    agent_id  INTEGER NOT NULL REFERENCES agents (id),
    container TEXT    NOT NULL,
    ts_ms     INTEGER NOT NULL,
    action    TEXT    NOT NULL,
    detail    TEXT,
    -- 'docker' (the event stream) or 'inventory' (a change between reports)
    source    TEXT    NOT NULL
);
-- Also what makes a re-sent event (a heartbeat retried after the server
-- stored it) land once.
CREATE UNIQUE INDEX container_events_once ON container_events (agent_id, container, ts_ms, action, source);
CREATE INDEX container_events_by_time ON container_events (ts_ms);
CREATE INDEX tasks_finished ON tasks (finished_ms);
