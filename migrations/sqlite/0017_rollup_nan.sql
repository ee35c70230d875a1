-- Rollup buckets keep NaN samples apart from numbers (issue 17): `count`
-- counts numbers, `nan` counts NaN samples (staleness markers are not
-- samples), min/max/sum are over the numbers, and `last` is NULL when the
-- latest sample is NaN. A window holding NaN then answers from buckets as
-- Prometheus does from samples. Buckets built before skipped NaN
-- altogether: empty the tables and reset the watermark so the next passes
-- rebuild them.
ALTER TABLE samples_5m ADD COLUMN nan INTEGER NOT NULL DEFAULT 0;
ALTER TABLE samples_1h ADD COLUMN nan INTEGER NOT NULL DEFAULT 0;
DELETE FROM samples_5m;
DELETE FROM samples_1h;
DELETE FROM rollup_dirty;
DELETE FROM rollup_state WHERE name = '5m';
