//! Unit-aware number formatting for axes, legends, tooltips and tables.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Plain numbers with SI suffixes (k, M, G, …).
    #[default]
    Short,
    /// Bytes in IEC steps (KiB, MiB, GiB, …).
    Bytes,
    /// Bytes per second in IEC steps.
    #[serde(rename = "bytes/s")]
    BytesPerSec,
    /// Bits per second with SI suffixes (kbit/s, Mbit/s, …).
    #[serde(rename = "bits/s")]
    BitsPerSec,
    /// Values already in 0–100.
    Percent,
    /// Ratios in 0–1, shown as percent.
    #[serde(rename = "percentunit")]
    PercentUnit,
    /// Durations in seconds.
    Seconds,
    /// Whole counts with SI suffixes, never fractional below 1000.
    Count,
}

impl Unit {
    pub fn parse(s: &str) -> Option<Unit> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Short => "short",
            Unit::Bytes => "bytes",
            Unit::BytesPerSec => "bytes/s",
            Unit::BitsPerSec => "bits/s",
            Unit::Percent => "percent",
            Unit::PercentUnit => "percentunit",
            Unit::Seconds => "seconds",
            Unit::Count => "count",
        }
    }

    /// The factor ticks are scaled by: 1024 for IEC units, 1000 otherwise.
    pub fn base(self) -> f64 {
        match self {
            Unit::Bytes | Unit::BytesPerSec => 1024.0,
            _ => 1000.0,
        }
    }
}

/// At most 3 significant digits, trailing zeros dropped: 1.5, 12.3, 512.
fn digits(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn scaled(v: f64, base: f64, suffixes: &[&str], sep: &str) -> String {
    let mut x = v;
    let mut i = 0;
    while x.abs() >= base && i + 1 < suffixes.len() {
        x /= base;
        i += 1;
    }
    // 1023.9 KiB rounds to "1024 KiB": move up instead.
    if digits(x).trim_start_matches('-') == base.to_string() && i + 1 < suffixes.len() {
        x /= base;
        i += 1;
    }
    let suffix = suffixes[i];
    if suffix.is_empty() {
        digits(x)
    } else {
        format!("{}{sep}{suffix}", digits(x))
    }
}

/// Formats `v` for display in `unit`.
pub fn format(v: f64, unit: Unit) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    const SI: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    const IEC: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    const IEC_RATE: [&str; 7] = ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s", "PiB/s", "EiB/s"];
    const BITS: [&str; 7] = [
        "bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s", "Pbit/s", "Ebit/s",
    ];
    match unit {
        Unit::Short => scaled(v, 1000.0, &SI, ""),
        Unit::Count if v.abs() < 1000.0 => format!("{}", v.round()),
        Unit::Count => scaled(v, 1000.0, &SI, ""),
        Unit::Bytes => scaled(v, 1024.0, &IEC, " "),
        Unit::BytesPerSec => scaled(v, 1024.0, &IEC_RATE, " "),
        Unit::BitsPerSec => scaled(v, 1000.0, &BITS, " "),
        Unit::Percent => format!("{}%", digits(v)),
        Unit::PercentUnit => format!("{}%", digits(v * 100.0)),
        Unit::Seconds => duration(v),
    }
}

fn duration(s: f64) -> String {
    let a = s.abs();
    if a == 0.0 {
        "0s".into()
    } else if a < 1e-3 {
        format!("{}µs", digits(s * 1e6))
    } else if a < 1.0 {
        format!("{}ms", digits(s * 1e3))
    } else if a < 60.0 {
        format!("{}s", digits(s))
    } else if a < 3600.0 {
        format!("{}min", digits(s / 60.0))
    } else if a < 86400.0 {
        format!("{}h", digits(s / 3600.0))
    } else {
        format!("{}d", digits(s / 86400.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_each_unit() {
        let cases = [
            (0.0, Unit::Bytes, "0 B"),
            (1023.0, Unit::Bytes, "1023 B"),
            (1536.0, Unit::Bytes, "1.5 KiB"),
            (1048575.0, Unit::Bytes, "1 MiB"),
            (5.0 * 1024.0 * 1024.0 * 1024.0, Unit::Bytes, "5 GiB"),
            (2560.0, Unit::BytesPerSec, "2.5 KiB/s"),
            (1_250_000.0, Unit::BitsPerSec, "1.25 Mbit/s"),
            (999.0, Unit::BitsPerSec, "999 bit/s"),
            (42.123, Unit::Percent, "42.1%"),
            (0.5, Unit::PercentUnit, "50%"),
            (0.0042, Unit::Seconds, "4.2ms"),
            (90.0, Unit::Seconds, "1.5min"),
            (7200.0, Unit::Seconds, "2h"),
            (3.0 * 86400.0, Unit::Seconds, "3d"),
            (0.000_5, Unit::Seconds, "500µs"),
            (1234.0, Unit::Short, "1.23k"),
            (0.25, Unit::Short, "0.25"),
            (-2_500_000.0, Unit::Short, "-2.5M"),
            (7.4, Unit::Count, "7"),
            (12_000.0, Unit::Count, "12k"),
            (f64::NAN, Unit::Short, "NaN"),
            (f64::INFINITY, Unit::Bytes, "+Inf"),
        ];
        for (v, u, want) in cases {
            assert_eq!(format(v, u), want, "{v} {u:?}");
        }
    }

    #[test]
    fn parses_names() {
        for u in [
            Unit::Short,
            Unit::Bytes,
            Unit::BytesPerSec,
            Unit::BitsPerSec,
            Unit::Percent,
            Unit::PercentUnit,
            Unit::Seconds,
            Unit::Count,
        ] {
            assert_eq!(Unit::parse(u.name()), Some(u));
        }
        assert_eq!(Unit::parse("furlongs"), None);
    }
}
