//! The view state that lives in the URL: time range, refresh, and the
//! page's own parameters. A link reproduces the view.

use crate::chart::ticks::civil;

pub const PRESETS: [(&str, i64); 6] = [
    ("15m", 15 * 60_000),
    ("1h", 3_600_000),
    ("6h", 6 * 3_600_000),
    ("24h", 86_400_000),
    ("7d", 7 * 86_400_000),
    ("30d", 30 * 86_400_000),
];
pub const REFRESH: [&str; 5] = ["off", "5s", "10s", "30s", "1m"];

#[derive(Debug, Clone, PartialEq)]
pub struct ViewState {
    /// A preset name, or "custom" for absolute from/to.
    pub range: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub refresh: String,
    /// Every other parameter, in order (query, var-host, sort, …).
    pub params: Vec<(String, String)>,
}

/// Unix ms, or `YYYY-MM-DDTHH:MM[:SS]` in UTC (what datetime-local sends).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (h, mi) = (t.next()??, t.next()??);
    let sec = t.next().flatten().unwrap_or(0);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    // Days from the civil date (inverse of `civil`).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    if civil(days) != (y, mo as u32, day as u32) {
        return None;
    }
    Some(days * 86_400_000 + (h * 3600 + mi * 60 + sec) * 1000)
}

/// `YYYY-MM-DDTHH:MM` for datetime-local inputs.
pub fn input_time(ms: i64) -> String {
    let dt = crate::chart::ticks::datetime(ms);
    dt[..16].replacen(' ', "T", 1)
}

impl ViewState {
    pub fn from_query(query: &str, now_ms: i64) -> Self {
        let mut range = None;
        let (mut from, mut to, mut refresh) = (None, None, None);
        let mut params = Vec::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "range" => range = Some(v.into_owned()),
                "from" => from = parse_time(&v),
                "to" => to = parse_time(&v),
                "refresh" => refresh = REFRESH.contains(&v.as_ref()).then(|| v.into_owned()),
                _ => params.push((k.into_owned(), v.into_owned())),
            }
        }
        let preset = range
            .as_deref()
            .and_then(|r| PRESETS.iter().find(|p| p.0 == r))
            .copied();
        let (range, start_ms, end_ms) = match (preset, from, to) {
            // An explicit preset wins over stale from/to left in the URL.
            (Some((name, len)), _, _) => (name.to_string(), now_ms - len, now_ms),
            (None, Some(f), t) if f < t.unwrap_or(now_ms) => {
                ("custom".into(), f, t.unwrap_or(now_ms))
            }
            _ => ("1h".into(), now_ms - 3_600_000, now_ms),
        };
        Self {
            range,
            start_ms,
            end_ms,
            refresh: refresh.unwrap_or_else(|| "off".into()),
            params,
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query string for this view with `set` applied (empty value =
    /// removed), for links between pages that keep range and refresh.
    pub fn query_with(&self, set: &[(&str, &str)], keep_params: bool) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        if self.range == "custom" {
            out.append_pair("from", &self.start_ms.to_string());
            out.append_pair("to", &self.end_ms.to_string());
        } else {
            out.append_pair("range", &self.range);
        }
        if self.refresh != "off" {
            out.append_pair("refresh", &self.refresh);
        }
        if keep_params {
            for (k, v) in &self.params {
                if !set.iter().any(|(s, _)| s == k) {
                    out.append_pair(k, v);
                }
            }
        }
        for (k, v) in set {
            if !v.is_empty() {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000_000;

    #[test]
    fn presets_custom_and_defaults() {
        let v = ViewState::from_query("range=6h&refresh=10s&query=up", NOW);
        assert_eq!((v.start_ms, v.end_ms), (NOW - 6 * 3_600_000, NOW));
        assert_eq!(v.refresh, "10s");
        assert_eq!(v.param("query"), Some("up"));
        let v = ViewState::from_query("from=1000&to=5000", NOW);
        assert_eq!(
            (v.range.as_str(), v.start_ms, v.end_ms),
            ("custom", 1000, 5000)
        );
        let v = ViewState::from_query("from=2025-11-22T10:00&to=2025-11-22T11:30", NOW);
        assert_eq!(v.end_ms - v.start_ms, 90 * 60_000);
        assert_eq!(input_time(v.start_ms), "2025-11-22T10:00");
        let v = ViewState::from_query("range=bogus&refresh=1ms&from=9&to=3", NOW);
        assert_eq!((v.range.as_str(), v.refresh.as_str()), ("1h", "off"));
    }

    #[test]
    fn links_keep_range_and_params() {
        let v = ViewState::from_query("range=24h&var-host=a%20b&refresh=5s", NOW);
        assert_eq!(
            v.query_with(&[("sort", "cpu")], true),
            "range=24h&refresh=5s&var-host=a+b&sort=cpu"
        );
        assert_eq!(v.query_with(&[], false), "range=24h&refresh=5s");
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(parse_time("1970-01-02T00:00"), Some(86_400_000));
        assert_eq!(parse_time("2025-02-30T00:00"), None);
        assert_eq!(parse_time("2025-01-01T24:00"), None);
        assert_eq!(parse_time("yesterday"), None);
    }
}
