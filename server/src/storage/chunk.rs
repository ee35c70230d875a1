//! A compressed chunk of one series' samples, Gorilla-style (Facebook's
//! Gorilla paper, as Prometheus's XOR chunks do it): timestamps as
//! delta-of-deltas in 1, 16, 20, 24 or 68 bits, values as the XOR with
//! the previous value, in 1 bit when equal and otherwise only its
//! meaningful bits. Regular 15 s samples of a slowly moving value take
//! 1–2 bytes each instead of a row with its index entry.
//!
//! This is the sample layout's building block (issue 23); the stores do
//! not use it yet. Values keep their exact bits, so Prometheus's stale
//! marker (one NaN bit pattern) survives a round trip. Decoding is
//! bounded: at most [`MAX_SAMPLES`], never past the input, and a chunk
//! that does not decode to increasing timestamps is refused, so a
//! corrupt row is an error, never a panic, a hang or a huge allocation.

mod bits;

use bits::{BitReader, BitWriter, Exhausted};

/// The most samples one chunk holds (a chunk is meant for a few hours).
pub const MAX_SAMPLES: usize = 1 << 16;
const VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("a chunk holds at most {MAX_SAMPLES} samples")]
    TooMany,
    #[error("timestamps must increase within a chunk ({0} after {1})")]
    Unordered(i64, i64),
    #[error("corrupt chunk: {0}")]
    Corrupt(&'static str),
}

impl From<Exhausted> for ChunkError {
    fn from(_: Exhausted) -> Self {
        ChunkError::Corrupt("ends early")
    }
}

/// Delta-of-delta classes: (prefix, its length, payload bits).
const DOD_CLASSES: [(u64, u8, u8); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];

fn fits(v: i64, bits: u8) -> bool {
    let half = 1i64 << (bits - 1);
    (-half..half).contains(&v)
}

/// Encodes samples (timestamps strictly increasing) into one chunk.
pub fn encode(samples: &[(i64, f64)]) -> Result<Vec<u8>, ChunkError> {
    if samples.len() > MAX_SAMPLES {
        return Err(ChunkError::TooMany);
    }
    let mut w = BitWriter::with_capacity(16 + samples.len() * 2);
    w.bits(u64::from(VERSION), 8);
    w.bits(samples.len() as u64, 32);
    let Some(&(t0, v0)) = samples.first() else {
        return Ok(w.finish());
    };
    w.bits(t0 as u64, 64);
    w.bits(v0.to_bits(), 64);
    let (mut prev_t, mut prev_delta) = (t0, 0i64);
    let mut prev_v = v0.to_bits();
    // The current window of meaningful bits: (leading zeros, length).
    let mut window: Option<(u8, u8)> = None;
    for &(t, v) in &samples[1..] {
        if t <= prev_t {
            return Err(ChunkError::Unordered(t, prev_t));
        }
        let delta = t.wrapping_sub(prev_t);
        let dod = delta.wrapping_sub(prev_delta);
        if dod == 0 {
            w.bit(false);
        } else if let Some(&(prefix, len, bits)) =
            DOD_CLASSES.iter().find(|(_, _, bits)| fits(dod, *bits))
        {
            w.bits(prefix, len);
            w.bits(dod as u64, bits);
        } else {
            w.bits(0b1111, 4);
            w.bits(dod as u64, 64);
        }
        (prev_t, prev_delta) = (t, delta);

        let bits = v.to_bits();
        let x = bits ^ prev_v;
        prev_v = bits;
        if x == 0 {
            w.bit(false);
            continue;
        }
        w.bit(true);
        let lead = (x.leading_zeros() as u8).min(31);
        let trail = x.trailing_zeros() as u8;
        match window {
            Some((wl, wn)) if lead >= wl && trail >= 64 - wl - wn => {
                w.bit(false);
                w.bits(x >> (64 - wl - wn), wn);
            }
            _ => {
                let n = 64 - lead - trail;
                w.bit(true);
                w.bits(u64::from(lead), 5);
                // 64 meaningful bits are written as 0.
                w.bits(u64::from(n % 64), 6);
                w.bits(x >> trail, n);
                window = Some((lead, n));
            }
        }
    }
    Ok(w.finish())
}

/// How many samples a chunk says it holds, without decoding it.
pub fn count(chunk: &[u8]) -> Result<usize, ChunkError> {
    let mut r = BitReader::new(chunk);
    header(&mut r)
}

fn header(r: &mut BitReader) -> Result<usize, ChunkError> {
    if r.bits(8)? != u64::from(VERSION) {
        return Err(ChunkError::Corrupt("unknown version"));
    }
    let n = r.bits(32)? as usize;
    if n > MAX_SAMPLES {
        return Err(ChunkError::TooMany);
    }
    Ok(n)
}

/// Appends the chunk's samples with `lo <= t <= hi` to `out`, oldest
/// first, and stops at the first past `hi`.
pub fn decode_into(
    chunk: &[u8],
    lo: i64,
    hi: i64,
    out: &mut Vec<(i64, f64)>,
) -> Result<(), ChunkError> {
    let mut r = BitReader::new(chunk);
    let n = header(&mut r)?;
    if n == 0 {
        return Ok(());
    }
    let mut t = r.bits(64)? as i64;
    let mut v = r.bits(64)?;
    let mut delta = 0i64;
    let mut window = (0u8, 0u8);
    for i in 0..n {
        if i > 0 {
            let dod = if !r.bit()? {
                0
            } else {
                // The prefix is ones then a zero (10, 110, 1110); the
                // widest class's 1111 has no zero.
                let mut class = None;
                for &(_, _, bits) in &DOD_CLASSES {
                    if !r.bit()? {
                        class = Some(bits);
                        break;
                    }
                }
                let bits = class.unwrap_or(64);
                let raw = r.bits(bits)?;
                // Sign-extend the payload.
                if bits == 64 {
                    raw as i64
                } else {
                    ((raw << (64 - bits)) as i64) >> (64 - bits)
                }
            };
            delta = delta.wrapping_add(dod);
            let next = t.wrapping_add(delta);
            if next <= t {
                return Err(ChunkError::Corrupt("timestamps do not increase"));
            }
            t = next;
            if r.bit()? {
                if r.bit()? {
                    let lead = r.bits(5)? as u8;
                    let n = match r.bits(6)? as u8 {
                        0 => 64,
                        n => n,
                    };
                    if lead as u16 + n as u16 > 64 {
                        return Err(ChunkError::Corrupt("value window past 64 bits"));
                    }
                    window = (lead, n);
                } else if window.1 == 0 {
                    return Err(ChunkError::Corrupt("value window used before it is set"));
                }
                let (lead, n) = window;
                let x = r.bits(n)?;
                v ^= x << (64 - lead - n);
            }
        }
        if t > hi {
            return Ok(());
        }
        if t >= lo {
            out.push((t, f64::from_bits(v)));
        }
    }
    Ok(())
}

/// Every sample of a chunk.
pub fn decode(chunk: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
    let mut out = Vec::with_capacity(count(chunk)?);
    decode_into(chunk, i64::MIN, i64::MAX, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
