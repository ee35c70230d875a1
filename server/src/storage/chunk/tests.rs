use super::*;
use crate::promql::value::stale_nan;

/// A small deterministic generator (no dependency on a seed crate).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
}

fn same(a: &[(i64, f64)], b: &[(i64, f64)]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.0, y.0);
        assert_eq!(x.1.to_bits(), y.1.to_bits(), "at {}", x.0);
    }
}

#[test]
fn regular_samples_round_trip_in_a_few_bits_each() {
    let t0 = 1_790_000_000_000;
    let samples: Vec<(i64, f64)> = (0..5760)
        .map(|i| (t0 + i * 15_000, (i % 97) as f64))
        .collect();
    let c = encode(&samples).unwrap();
    same(&decode(&c).unwrap(), &samples);
    let per = c.len() as f64 / samples.len() as f64;
    assert!(per < 2.5, "{per} bytes a sample");
    // A counter of whole numbers at a jittery scrape.
    let mut g = Lcg(7);
    let mut t = t0;
    let mut v = 0.0;
    let counter: Vec<(i64, f64)> = (0..1000)
        .map(|_| {
            t += 15_000 + (g.next() % 40) as i64 - 20;
            v += (g.next() % 1000) as f64;
            (t, v)
        })
        .collect();
    same(&decode(&encode(&counter).unwrap()).unwrap(), &counter);
}

#[test]
fn every_value_keeps_its_bits_including_the_stale_marker() {
    let specials = [
        0.0,
        -0.0,
        f64::NAN,
        stale_nan(),
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        f64::MAX,
        1e-300,
        0.1,
        -123.456,
    ];
    let mut g = Lcg(42);
    let mut t = -5_000_000i64;
    let samples: Vec<(i64, f64)> = (0..3000)
        .map(|i| {
            // Gaps from 1 ms to days, so every timestamp class is used.
            t += 1 + (g.next() % [10, 100_000, 10_000_000, 1 << 40][i % 4]) as i64;
            let v = if i % 3 == 0 {
                specials[i % specials.len()]
            } else {
                f64::from_bits(g.next() << 11 ^ g.next())
            };
            (t, v)
        })
        .collect();
    let c = encode(&samples).unwrap();
    same(&decode(&c).unwrap(), &samples);
    assert_eq!(count(&c).unwrap(), 3000);
}

#[test]
fn a_range_is_decoded_and_decoding_stops_past_it() {
    let samples: Vec<(i64, f64)> = (0..100).map(|i| (i * 10, i as f64)).collect();
    let c = encode(&samples).unwrap();
    let mut out = Vec::new();
    decode_into(&c, 250, 500, &mut out).unwrap();
    same(&out, &samples[25..=50]);
    out.clear();
    decode_into(&c, 2000, 3000, &mut out).unwrap();
    assert!(out.is_empty());
    assert!(decode(&encode(&[]).unwrap()).unwrap().is_empty());
}

#[test]
fn bad_input_is_refused_when_encoding() {
    assert_eq!(
        encode(&[(10, 1.0), (10, 2.0)]),
        Err(ChunkError::Unordered(10, 10))
    );
    assert_eq!(
        encode(&[(10, 1.0), (5, 2.0)]),
        Err(ChunkError::Unordered(5, 10))
    );
    let many = vec![(0, 0.0); MAX_SAMPLES + 1];
    assert_eq!(encode(&many), Err(ChunkError::TooMany));
}

#[test]
fn truncated_or_garbage_chunks_are_errors_never_panics() {
    let samples: Vec<(i64, f64)> = (0..500)
        .map(|i| (i * 15_000, (i * i) as f64 * 0.5))
        .collect();
    let c = encode(&samples).unwrap();
    for cut in 0..c.len() {
        assert!(decode(&c[..cut]).is_err(), "cut at {cut} of {}", c.len());
    }
    // A header that claims more samples than the limit.
    let mut huge = c.clone();
    huge[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(decode(&huge), Err(ChunkError::TooMany));
    // Random bytes and random flips of a good chunk: any answer but a
    // panic; a decoded result always has increasing timestamps.
    let mut g = Lcg(1);
    for round in 0..20_000 {
        let bytes: Vec<u8> = if round % 2 == 0 {
            let mut b = c.clone();
            let at = (g.next() as usize) % b.len();
            b[at] ^= 1 << (g.next() % 8);
            b
        } else {
            let mut b = vec![VERSION];
            b.extend((0..(g.next() % 64)).map(|_| g.next() as u8));
            b
        };
        if let Ok(v) = decode(&bytes) {
            assert!(v.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }
}
