//! Prometheus-style durations (`10s`, `1h30m`, `30d`), used by flags, config
//! files and later by PromQL. A plain number means seconds, as in Prometheus 3.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {input:?}: {reason} (examples: 10s, 5m, 1h30m, 30d)")]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

/// Parses `[0-9]+(ms|s|m|h|d|w|y)` repeated, largest unit first, or a bare
/// number of seconds (fractions allowed).
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return Err(err("must be a finite, non-negative number of seconds"));
        }
        return Duration::try_from_secs_f64(secs).map_err(|_| err("out of range"));
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total_ms: u128 = 0;
    let mut last_rank = usize::MAX;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err("expected a number"));
        }
        let n: u128 = s[start..i].parse().map_err(|_| err("number too large"))?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let (rank, unit_ms) = match &s[ustart..i] {
            "y" => (0, 365 * 86_400_000),
            "w" => (1, 7 * 86_400_000),
            "d" => (2, 86_400_000),
            "h" => (3, 3_600_000),
            "m" => (4, 60_000),
            "s" => (5, 1_000),
            "ms" => (6, 1),
            "" => return Err(err("missing unit")),
            _ => return Err(err("unknown unit")),
        };
        // Prometheus rejects "1s1h": units must go from largest to smallest.
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(err("units must be in decreasing order and not repeated"));
        }
        last_rank = rank;
        total_ms = total_ms
            .checked_add(n.checked_mul(unit_ms).ok_or_else(|| err("too large"))?)
            .ok_or_else(|| err("too large"))?;
    }
    let ms = u64::try_from(total_ms).map_err(|_| err("too large"))?;
    Ok(Duration::from_millis(ms))
}

/// The inverse of [`parse_duration`] for whole milliseconds: `90s` → `1m30s`.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1_500));
        assert_eq!(parse_duration("60").unwrap(), Duration::from_secs(60));
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for bad in ["", "s", "10", "10x", "1s1h", "1m1m", "-5", "NaN", "10 s"] {
            if bad == "10" {
                continue;
            }
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains("invalid duration"), "{bad}: {e}");
        }
        assert!(parse_duration("99999999999999999999999y").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1m30s", "30d", "10s", "1d2h", "250ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
