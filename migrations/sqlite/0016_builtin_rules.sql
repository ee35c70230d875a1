-- Built-in alert rules (server/rules/builtin.yml) as users changed them:
-- disabled, or edited (`spec`: the rule as a one-rule Prometheus rule
-- file, like ui_rules). A built-in without a row runs as shipped, so an
-- upgrade improves every rule nobody changed and keeps every change.
CREATE TABLE builtin_rules (
    name       TEXT    PRIMARY KEY,
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    spec       TEXT,
    author     TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);
