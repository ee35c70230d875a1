-- Each agent's scrape targets and their last scrape (the Targets page),
-- as the JSON list the agent reports in its heartbeats; replaced whole.
CREATE TABLE scrape_status (
    agent_id   INTEGER PRIMARY KEY REFERENCES agents (id),
    targets    TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);
