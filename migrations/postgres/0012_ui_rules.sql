-- Alert rules made in the UI (server/src/alerting/ui_rules.rs): each is
-- kept as the text of a Prometheus rule file with one group, so it
-- compiles exactly as rule files do and can be copied into one.
CREATE TABLE ui_rules (
    name       TEXT    PRIMARY KEY,
    spec       TEXT    NOT NULL,
    author     TEXT    NOT NULL,
    updated_ms BIGINT  NOT NULL
);
