-- Services (domains on a host served by containers or static addresses)
-- and the error pages nginx serves for them. A service's settings are one
-- JSON document (dozor_common::services::Service); the routes table holds
-- its domains and path so two services can never claim the same domain and
-- path on one host.
CREATE TABLE services (
    name       TEXT    PRIMARY KEY,
    host       TEXT    NOT NULL,
    spec       TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_ms BIGINT  NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_ms BIGINT  NOT NULL
);
CREATE INDEX services_host ON services (host);

CREATE TABLE service_routes (
    service TEXT NOT NULL REFERENCES services (name) ON DELETE CASCADE,
    host    TEXT NOT NULL,
    domain  TEXT NOT NULL,
    path    TEXT NOT NULL,
    UNIQUE (host, domain, path)
);
CREATE INDEX service_routes_service ON service_routes (service);

-- '' is the global set; otherwise a service's override.
CREATE TABLE error_pages (
    service    TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    html       TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_ms BIGINT  NOT NULL,
    PRIMARY KEY (service, status)
);

-- How each agent runs its host's nginx (its announced capabilities), so the
-- server renders the config the agent will apply.
ALTER TABLE agents ADD COLUMN nginx TEXT;
