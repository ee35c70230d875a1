//! One line of dozor's access log (`log_format dozor_json`, rendered in
//! `common/src/services/render.rs`), read without copying what it does not
//! need to.

use serde::Deserialize;
use std::borrow::Cow;

/// The longest line kept; nginx writes a few hundred bytes, so anything
/// near this is hostile (a user agent of megabytes) and is skipped.
pub const MAX_LINE: usize = 16 * 1024;

/// What a request left in the log. Fields the metrics and rules do not
/// use (request id, method, upstream address, user agent) are in the file
/// for people and are skipped here.
#[derive(Debug, Deserialize)]
pub struct Hit<'a> {
    #[serde(borrow)]
    pub service: Cow<'a, str>,
    #[serde(borrow)]
    pub client: Cow<'a, str>,
    #[serde(borrow, default)]
    pub path: Cow<'a, str>,
    pub status: u16,
    #[serde(default)]
    pub bytes: u64,
    pub request_time: f64,
    #[serde(borrow, default)]
    pub upstream_time: Cow<'a, str>,
    #[serde(borrow, default)]
    pub user_agent: Cow<'a, str>,
}

/// Why a line was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// Not JSON of the expected shape (truncated, invalid UTF-8, not ours).
    Malformed,
    TooLong,
    /// A status outside 100–599 or a negative time.
    BadValue,
    /// A request that no service location took (a path none serves).
    NoService,
    /// A service this host does not run (a line from before a delete, or
    /// a forged one): never a new series.
    UnknownService,
    /// This agent's own service probe (its user agent carries a token
    /// made at start, so nobody else can hide as one).
    Probe,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLong => "too_long",
            Self::BadValue => "bad_value",
            Self::NoService => "no_service",
            Self::UnknownService => "unknown_service",
            Self::Probe => "probe",
        }
    }

    pub const ALL: [Skip; 6] = [
        Self::Malformed,
        Self::TooLong,
        Self::BadValue,
        Self::NoService,
        Self::UnknownService,
        Self::Probe,
    ];
}

pub fn parse(line: &[u8]) -> Result<Hit<'_>, Skip> {
    if line.len() > MAX_LINE {
        return Err(Skip::TooLong);
    }
    let hit: Hit = serde_json::from_slice(line).map_err(|_| Skip::Malformed)?;
    let valid = (100..=599).contains(&hit.status)
        && hit.request_time >= 0.0
        && hit.request_time.is_finite();
    if !valid {
        return Err(Skip::BadValue);
    }
    Ok(hit)
}

/// The time spent in upstreams: nginx lists one time per upstream tried
/// (`0.004, 0.010`) and groups them per internal redirect (`… : 0.002`);
/// `-` is an upstream that never answered. None when there was none.
pub fn upstream_seconds(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut any = false;
    for part in s.split([',', ':']) {
        if let Ok(v) = part.trim().parse::<f64>() {
            if v.is_finite() && v >= 0.0 {
                total += v;
                any = true;
            }
        }
    }
    any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"msec":1733380000.123,"request_id":"abc","service":"app","client":"127.0.0.5","method":"GET","path":"/a\"b","status":502,"bytes":157,"request_time":0.012,"upstream_time":"0.004, 0.006 : 0.001","upstream":"172.17.0.2:80","user_agent":"curl/8"}"#;

    #[test]
    fn reads_a_line_nginx_writes() {
        let h = parse(GOOD.as_bytes()).unwrap();
        assert_eq!(
            (h.service.as_ref(), h.client.as_ref(), h.path.as_ref()),
            ("app", "127.0.0.5", "/a\"b")
        );
        assert_eq!((h.status, h.bytes), (502, 157));
        assert!((upstream_seconds(&h.upstream_time).unwrap() - 0.011).abs() < 1e-9);
        assert_eq!(upstream_seconds(""), None);
        assert_eq!(upstream_seconds("-"), None);
        assert_eq!(upstream_seconds("-, 0.5"), Some(0.5));
    }

    #[test]
    fn hostile_lines_are_skipped_with_why() {
        let cut = &GOOD[..GOOD.len() / 2];
        assert_eq!(parse(cut.as_bytes()).unwrap_err(), Skip::Malformed);
        let mut invalid = GOOD.as_bytes().to_vec();
        invalid[60] = 0xff;
        assert_eq!(parse(&invalid).unwrap_err(), Skip::Malformed);
        assert_eq!(parse(b"").unwrap_err(), Skip::Malformed);
        assert_eq!(parse(b"[1,2]").unwrap_err(), Skip::Malformed);
        let huge = format!(r#"{{"user_agent":"{}"}}"#, "x".repeat(MAX_LINE));
        assert_eq!(parse(huge.as_bytes()).unwrap_err(), Skip::TooLong);
        let status = GOOD.replace("502", "999");
        assert_eq!(parse(status.as_bytes()).unwrap_err(), Skip::BadValue);
        let time = GOOD.replace("0.012", "-1");
        assert_eq!(parse(time.as_bytes()).unwrap_err(), Skip::BadValue);
        // Deeply nested values are refused by serde_json's own depth limit.
        let deep = format!(r#"{{"x":{}{}}}"#, "[".repeat(5_000), "]".repeat(5_000));
        assert_eq!(parse(deep.as_bytes()).unwrap_err(), Skip::Malformed);
    }
}
