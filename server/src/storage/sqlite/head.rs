//! The in-memory head of the SQLite store: the samples of the ingest log
//! (`samples_log`) not yet flushed into `samples`, by series, for reads;
//! and an upper bound of each series' newest stored timestamp, so that an
//! ingest knows a sample newer than it is new without reading the table.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

/// One sample in the head: the log row it came in, its time and value.
#[derive(Clone, Copy)]
struct Entry {
    seq: i64,
    ts: i64,
    value: f64,
}

#[derive(Default)]
struct Inner {
    series: HashMap<i64, Vec<Entry>>,
    samples: usize,
    /// Log rows at or below this are in `samples`.
    flushed: i64,
    /// When the oldest sample still in the head arrived.
    since: Option<Instant>,
    /// Per series, no sample stored or in the head is newer than this. Only
    /// ever too high (which sends a sample to the slower exact check),
    /// never too low.
    newest: HashMap<i64, i64>,
}

#[derive(Default)]
pub(super) struct Head {
    inner: Mutex<Inner>,
    /// Woken after each flush: ingests wait on it while the head is full.
    filed: tokio::sync::Notify,
}

/// A sample as the log and the head carry it: (series id, ts, value).
pub(super) type Row = (i64, i64, f64);

impl Head {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; the head
        // stays usable rather than failing every later read.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds the samples of log row `seq`, once committed. A row already
    /// flushed (the flush can run between the commit and this call) is
    /// skipped: `samples` has it.
    pub fn insert(&self, seq: i64, rows: &[Row]) {
        let mut h = self.lock();
        if seq <= h.flushed || rows.is_empty() {
            return;
        }
        h.since.get_or_insert_with(Instant::now);
        h.samples += rows.len();
        for &(id, ts, value) in rows {
            h.series
                .entry(id)
                .or_default()
                .push(Entry { seq, ts, value });
            // A bound is only ever made by `load_newest`, which also reads
            // the table; here known ones are kept true.
            if let Some(newest) = h.newest.get_mut(&id) {
                *newest = (*newest).max(ts);
            }
        }
    }

    /// Drops the samples of log rows up to `seq`, now in `samples`.
    pub fn forget(&self, seq: i64) {
        let mut h = self.lock();
        h.flushed = h.flushed.max(seq);
        let mut left = 0;
        h.series.retain(|_, entries| {
            entries.retain(|e| e.seq > seq);
            left += entries.len();
            !entries.is_empty()
        });
        h.samples = left;
        // The rest arrived after the flushed rows: counting their age from
        // now flushes them no earlier than their own age says.
        h.since = (left > 0).then(Instant::now);
        drop(h);
        self.filed.notify_waiters();
    }

    /// Completes after the next flush.
    pub fn filed(&self) -> tokio::sync::futures::Notified<'_> {
        self.filed.notified()
    }

    pub fn len(&self) -> usize {
        self.lock().samples
    }

    /// How long the oldest sample has waited in the head.
    pub fn age(&self) -> Option<std::time::Duration> {
        self.lock().since.map(|s| s.elapsed())
    }

    /// The samples of `ids` with `start <= ts <= end`, by series, oldest
    /// first.
    pub fn read(&self, ids: &[i64], start: i64, end: i64) -> HashMap<i64, Vec<(i64, f64)>> {
        let h = self.lock();
        let mut out = HashMap::new();
        if h.samples == 0 {
            return out;
        }
        for id in ids {
            let Some(entries) = h.series.get(id) else {
                continue;
            };
            let mut got: Vec<(i64, f64)> = entries
                .iter()
                .filter(|e| e.ts >= start && e.ts <= end)
                .map(|e| (e.ts, e.value))
                .collect();
            if got.is_empty() {
                continue;
            }
            if !got.windows(2).all(|w| w[0].0 < w[1].0) {
                got.sort_by_key(|s| s.0);
            }
            out.insert(*id, got);
        }
        out
    }

    /// Which of `ids` hold a head sample with `start <= ts <= end`.
    pub fn with_samples(&self, ids: &[i64], start: i64, end: i64) -> HashSet<i64> {
        let h = self.lock();
        ids.iter()
            .copied()
            .filter(|id| {
                h.series
                    .get(id)
                    .is_some_and(|e| e.iter().any(|e| e.ts >= start && e.ts <= end))
            })
            .collect()
    }

    /// The value the head holds for `id` at `ts`.
    pub fn value_at(&self, id: i64, ts: i64) -> Option<f64> {
        let h = self.lock();
        h.series
            .get(&id)?
            .iter()
            .find(|e| e.ts == ts)
            .map(|e| e.value)
    }

    /// The newest-timestamp bound of each of `ids`; `None` where unknown.
    pub fn newest(&self, ids: &[i64]) -> Vec<Option<i64>> {
        let h = self.lock();
        ids.iter().map(|id| h.newest.get(id).copied()).collect()
    }

    /// Sets the bounds of series from their newest stored timestamps
    /// (`None`: nothing stored), together with what the head holds.
    pub fn load_newest(&self, stored: impl IntoIterator<Item = (i64, Option<i64>)>) {
        let mut h = self.lock();
        for (id, ts) in stored {
            let held = h.series.get(&id).and_then(|e| e.iter().map(|e| e.ts).max());
            let bound = ts.into_iter().chain(held).max().unwrap_or(i64::MIN);
            let newest = h.newest.entry(id).or_insert(i64::MIN);
            *newest = (*newest).max(bound);
        }
    }

    /// Raises the bounds of series to at least the given timestamps.
    pub fn raise_newest(&self, bounds: impl IntoIterator<Item = (i64, i64)>) {
        let mut h = self.lock();
        for (id, ts) in bounds {
            let newest = h.newest.entry(id).or_insert(i64::MIN);
            *newest = (*newest).max(ts);
        }
    }
}

/// Bytes a sample takes in a log row.
const ROW_BYTES: usize = 24;

/// A log row's body: id, ts and value bits, little-endian, per sample.
/// Exact bits are kept, so the staleness marker survives.
pub(super) fn encode(rows: &[Row]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * ROW_BYTES);
    for &(id, ts, v) in rows {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&ts.to_le_bytes());
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    out
}

/// Reads a log row's body back; `None` when its length is not whole
/// samples (a damaged row).
pub(super) fn decode(body: &[u8], out: &mut Vec<Row>) -> Option<()> {
    if !body.len().is_multiple_of(ROW_BYTES) {
        return None;
    }
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    for s in body.chunks_exact(ROW_BYTES) {
        out.push((
            word(&s[0..8]) as i64,
            word(&s[8..16]) as i64,
            f64::from_bits(word(&s[16..24])),
        ));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_bodies_round_trip_exact_bits_and_refuse_partial_samples() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let rows = vec![(1, -5, 1.5), (i64::MAX, i64::MIN, stale), (7, 0, f64::NAN)];
        let body = encode(&rows);
        let mut back = Vec::new();
        decode(&body, &mut back).unwrap();
        assert_eq!(back.len(), 3);
        for (a, b) in rows.iter().zip(&back) {
            assert_eq!((a.0, a.1, a.2.to_bits()), (b.0, b.1, b.2.to_bits()));
        }
        assert!(decode(&body[..body.len() - 1], &mut back).is_none());
    }

    #[test]
    fn the_head_reads_in_time_order_and_forgets_flushed_rows() {
        let head = Head::default();
        head.insert(1, &[(1, 20, 2.0), (2, 5, 9.0)]);
        head.insert(2, &[(1, 10, 1.0)]);
        assert_eq!(head.read(&[1], 0, 30)[&1], vec![(10, 1.0), (20, 2.0)]);
        assert_eq!(head.read(&[1, 2], 15, 100).len(), 1);
        assert_eq!(head.value_at(2, 5), Some(9.0));
        assert_eq!(head.newest(&[1]), vec![None]);
        head.load_newest([(1, Some(15)), (2, Some(30)), (3, None)]);
        assert_eq!(
            head.newest(&[1, 2, 3, 4]),
            vec![Some(20), Some(30), Some(i64::MIN), None]
        );
        head.insert(2, &[(1, 40, 4.0)]);
        assert_eq!(head.newest(&[1]), vec![Some(40)]);
        head.forget(1);
        assert_eq!(head.len(), 2);
        assert_eq!(head.read(&[1, 2], 0, 100)[&1], vec![(10, 1.0), (40, 4.0)]);
        // A row the flush already took is not added back.
        head.insert(1, &[(3, 1, 1.0)]);
        assert!(head.with_samples(&[3], 0, 100).is_empty());
        // Bounds outlive the samples they came from.
        assert_eq!(head.newest(&[2]), vec![Some(30)]);
    }
}
