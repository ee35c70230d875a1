//! A bare selector's range query is answered series by series with a
//! cursor (`Evaluator::selector_range`), not step by step. It must give
//! exactly what an instant query gives at each step: checked here over
//! irregular samples, gaps longer than the lookback, stale markers, NaN,
//! offsets, `@`, and steps finer and coarser than the samples.

use dozor_common::{Labels, Sample};
use dozor_promql::memory::MemorySource;
use dozor_promql::value::STALE_NAN_BITS;
use dozor_promql::{Engine, Limits, Range, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const T: i64 = 1_700_000_000_000;

/// xorshift: repeatable data without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn engine() -> Engine {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut src = MemorySource::default();
    for host in 0..12 {
        let labels: Labels = [("host".to_string(), format!("h{host}"))].into();
        // Whole seconds, so samples fall exactly on steps and on the
        // lookback's edge.
        let mut t = T - 3_600_000 + (rng.next() % 30) as i64 * 1_000;
        let mut samples = Vec::new();
        while t < T + 600_000 {
            let v = match rng.next() % 40 {
                0 => f64::from_bits(STALE_NAN_BITS),
                1 => f64::NAN,
                _ => (rng.next() % 1000) as f64 / 7.0,
            };
            samples.push(Sample::new(t, v));
            // Mostly up to 30 s apart; now and then a gap of exactly the
            // 5 min lookback or past it, or 1 ms.
            t += match rng.next() % 50 {
                0 => 420_000,
                1 => 300_000,
                2 => 1,
                _ => (1 + rng.next() % 29) as i64 * 1_000,
            };
        }
        src.add("m", labels, samples);
    }
    Engine::new(Arc::new(src), Limits::default())
}

type Points = BTreeMap<String, Vec<(i64, u64)>>;

fn key(m: &dozor_promql::value::Metric) -> String {
    format!("{:?}", **m)
}

#[tokio::test]
async fn a_bare_selector_over_a_range_answers_as_each_step_would() {
    let e = engine();
    let queries = [
        "m".to_string(),
        "(m)".to_string(),
        r#"m{host=~"h[0-5]"}"#.to_string(),
        "m offset 2m".to_string(),
        format!("m @ {}", (T - 1_800_000) / 1000),
        "m @ end()".to_string(),
    ];
    let ranges = [
        (T - 3_600_000, T, 15_000),
        (T - 3_700_000, T + 700_000, 7_000),
        (T - 1_000_000, T, 240_000),
    ];
    let mut compared = 0;
    for q in &queries {
        for &(start_ms, end_ms, step_ms) in &ranges {
            let r = Range {
                start_ms,
                end_ms,
                step_ms,
            };
            let Value::Matrix(got) = e.range(q, r).await.unwrap() else {
                panic!("{q}: not a matrix");
            };
            let got: Points = got
                .iter()
                .map(|s| {
                    (
                        key(&s.metric),
                        s.points.iter().map(|p| (p.0, p.1.to_bits())).collect(),
                    )
                })
                .collect();
            let mut want = Points::new();
            let mut t = start_ms;
            while t <= end_ms {
                // `@ end()` in an instant query is the instant itself.
                let iq = q.replace("@ end()", &format!("@ {}", end_ms as f64 / 1000.0));
                let Value::Vector(vs) = e.instant(&iq, t).await.unwrap() else {
                    panic!("{q}: not a vector");
                };
                for s in vs {
                    want.entry(key(&s.metric))
                        .or_default()
                        .push((t, s.v.to_bits()));
                }
                t += step_ms;
            }
            assert_eq!(got, want, "{q} over {r:?}");
            compared += want.values().map(Vec::len).sum::<usize>();
        }
    }
    assert!(
        compared > 10_000,
        "the data gave points to compare: {compared}"
    );
}
