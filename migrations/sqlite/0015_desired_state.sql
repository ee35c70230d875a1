-- Protocol 2: what each agent can do (announced in heartbeats), and the
-- desired state per host (a versioned document of sections the agent
-- converges on, with the generation it last applied).
ALTER TABLE agents ADD COLUMN protocol INTEGER NOT NULL DEFAULT 1;
ALTER TABLE agents ADD COLUMN task_kinds TEXT;
ALTER TABLE agents ADD COLUMN desired_sections TEXT;

CREATE TABLE desired_state (
    agent_id           INTEGER PRIMARY KEY REFERENCES agents (id),
    generation         INTEGER NOT NULL,
    doc                TEXT    NOT NULL,
    updated_ms         INTEGER NOT NULL,
    applied_generation INTEGER,
    applied_error      TEXT,
    applied_ms         INTEGER
);
