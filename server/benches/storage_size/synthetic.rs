//! The synthetic mix: 80 series per host, harsher than a real host (every
//! counter and gauge moves on every sample, by random amounts): constants
//! (sizes, totals), integer counters (bytes, packets), counters with two
//! decimals (CPU seconds), two-decimal gauges (load) and integer gauges in
//! pages (memory).

use dozor_common::{Sample, SeriesBatch};

pub const SERIES_PER_HOST: usize = 80;

/// Deterministic noise.
fn rnd(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

pub fn host(h: usize, start: i64, span: i64, step: i64) -> Vec<SeriesBatch> {
    let n = (span / step) as usize;
    let mut seed = 0x9e37_79b9_7f4a_7c15 ^ (h as u64 + 1);
    let mut out = Vec::new();
    let mut push = |name: String, values: Vec<f64>| {
        let labels = [("host".to_string(), format!("host-{h:02}"))].into();
        let samples = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| Sample::new(start + i as i64 * step, v))
            .collect();
        out.push(SeriesBatch::new(name, labels, samples));
    };
    for k in 0..10 {
        let v = ((rnd(&mut seed) % 1_000_000) * 4096) as f64;
        push(format!("bench_constant_{k}"), vec![v; n]);
    }
    for k in 0..40 {
        let mut v = (rnd(&mut seed) % 1_000_000_000) as f64;
        let rate = rnd(&mut seed) % 50_000;
        push(
            format!("bench_counter_{k}_total"),
            (0..n)
                .map(|_| {
                    v += (rate + rnd(&mut seed) % (rate + 1)) as f64;
                    v
                })
                .collect(),
        );
    }
    for k in 0..10 {
        let mut cents: u64 = rnd(&mut seed) % 10_000_000;
        push(
            format!("bench_cpu_seconds_{k}_total"),
            (0..n)
                .map(|_| {
                    cents += 1400 + rnd(&mut seed) % 200;
                    cents as f64 / 100.0
                })
                .collect(),
        );
    }
    for k in 0..10 {
        let mut cents: i64 = 100 + (rnd(&mut seed) % 300) as i64;
        push(
            format!("bench_load_{k}"),
            (0..n)
                .map(|_| {
                    cents = (cents + (rnd(&mut seed) % 21) as i64 - 10).max(0);
                    cents as f64 / 100.0
                })
                .collect(),
        );
    }
    for k in 0..10 {
        let mut pages: i64 = 1_000_000 + (rnd(&mut seed) % 1_000_000) as i64;
        push(
            format!("bench_memory_{k}_bytes"),
            (0..n)
                .map(|_| {
                    pages = (pages + (rnd(&mut seed) % 201) as i64 - 100).max(0);
                    (pages * 4096) as f64
                })
                .collect(),
        );
    }
    out
}
