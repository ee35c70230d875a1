-- Grouping (server/src/alerting/policy.rs): due notifications of one
-- group and channel go out as one message. `batch` is set when the
-- dispatcher claims rows for a message, so a retry resends exactly it.
ALTER TABLE outbox ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN batch INTEGER;
CREATE INDEX outbox_batch ON outbox (batch);
