-- Scrape targets defined on the server for one host (the Targets page);
-- each agent receives its host's list in every heartbeat response.
CREATE TABLE server_targets (
    id         INTEGER PRIMARY KEY,
    host       TEXT    NOT NULL,
    job        TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    interval   TEXT,
    format     TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (host, job, url)
);
