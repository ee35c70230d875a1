-- Rollup buckets become left-open: bucket b holds the samples with
-- b < ts <= b + width, like PromQL's range windows (t - r, t]. Empty the
-- tables and reset the watermark; the next passes rebuild them.
DELETE FROM samples_5m;
DELETE FROM samples_1h;
DELETE FROM rollup_dirty;
DELETE FROM rollup_state WHERE name = '5m';
