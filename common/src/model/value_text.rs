//! Sample values as text, the way the Prometheus text format and HTTP API
//! write them: `NaN`, `+Inf`, `-Inf`, and otherwise the shortest decimal
//! that reads back to the same f64, never in exponent form.

/// Formats a value the way the Prometheus text format and HTTP API do.
pub fn format_value(v: f64) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// [`format_value`] appended to `out`: a range answer writes thousands of
/// values, and one allocation each was a measurable part of its time.
pub fn write_value(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Parses a Prometheus value string, including `NaN`, `+Inf`, `-Inf`, `Inf`.
pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}
