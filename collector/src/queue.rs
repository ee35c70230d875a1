//! The bounded send queue: collection never waits for the network, and
//! when the server is away the oldest samples go first once the bound is
//! reached. It is a FIFO of whole collection passes so a disk spool can
//! later implement the same push/take/requeue calls.

use dozor_common::SeriesBatch;
use std::collections::VecDeque;

pub struct SendQueue {
    passes: VecDeque<Vec<SeriesBatch>>,
    samples: usize,
    max_samples: usize,
}

fn count(pass: &[SeriesBatch]) -> usize {
    pass.iter().map(|s| s.samples.len()).sum()
}

impl SendQueue {
    pub fn new(max_samples: usize) -> Self {
        Self {
            passes: VecDeque::new(),
            samples: 0,
            max_samples: max_samples.max(1),
        }
    }

    /// Appends a pass; returns how many old samples were dropped to fit it.
    pub fn push(&mut self, pass: Vec<SeriesBatch>) -> usize {
        self.samples += count(&pass);
        self.passes.push_back(pass);
        self.enforce_bound()
    }

    /// Drops the oldest passes until the bound holds (keeping at least the
    /// newest); returns how many samples went.
    fn enforce_bound(&mut self) -> usize {
        let mut dropped = 0;
        while self.samples > self.max_samples && self.passes.len() > 1 {
            let old = self.passes.pop_front().expect("len > 1");
            let n = count(&old);
            self.samples -= n;
            dropped += n;
        }
        dropped
    }

    /// Takes whole passes from the front, oldest first, up to `max_samples`
    /// (always at least one pass).
    pub fn take(&mut self, max_samples: usize) -> Vec<Vec<SeriesBatch>> {
        let mut out = Vec::new();
        let mut n = 0;
        while let Some(front) = self.passes.front() {
            let c = count(front);
            if !out.is_empty() && n + c > max_samples {
                break;
            }
            n += c;
            self.samples -= c;
            out.push(self.passes.pop_front().expect("front exists"));
        }
        out
    }

    /// Puts passes that failed to send back at the front, in order. The
    /// bound is enforced again, still dropping the oldest.
    pub fn requeue(&mut self, passes: Vec<Vec<SeriesBatch>>) -> usize {
        for p in passes.into_iter().rev() {
            self.samples += count(&p);
            self.passes.push_front(p);
        }
        self.enforce_bound()
    }

    pub fn samples(&self) -> usize {
        self.samples
    }

    pub fn is_empty(&self) -> bool {
        self.passes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dozor_common::Sample;

    fn pass(ts: i64, n: usize) -> Vec<SeriesBatch> {
        (0..n)
            .map(|i| {
                SeriesBatch::new(
                    format!("m{i}"),
                    Default::default(),
                    vec![Sample::new(ts, 1.0)],
                )
            })
            .collect()
    }

    #[test]
    fn drops_oldest_when_full_and_keeps_order() {
        let mut q = SendQueue::new(10);
        assert_eq!(q.push(pass(1, 4)), 0);
        assert_eq!(q.push(pass(2, 4)), 0);
        assert_eq!(q.push(pass(3, 4)), 4);
        assert_eq!(q.samples(), 8);
        let taken = q.take(5);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0][0].samples[0].ts_ms, 2);
        assert_eq!(q.requeue(taken), 0);
        let all = q.take(100);
        assert_eq!(
            all.iter()
                .map(|p| p[0].samples[0].ts_ms)
                .collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(q.is_empty());
        assert_eq!(q.samples(), 0);
    }

    #[test]
    fn a_single_oversized_pass_is_still_sent() {
        let mut q = SendQueue::new(3);
        assert_eq!(q.push(pass(1, 5)), 0);
        assert_eq!(q.take(2).len(), 1);
    }
}
