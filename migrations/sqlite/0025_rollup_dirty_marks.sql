-- Rollup steps run a batch of series per transaction (issue 23), so an
-- ingest can mark a claimed bucket dirty again while a step runs. Each
-- mark counts; a step removes a bucket only if its count is the one it
-- claimed, as compact_dirty does.
ALTER TABLE rollup_dirty ADD COLUMN marks INTEGER NOT NULL DEFAULT 0;
