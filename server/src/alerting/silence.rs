//! Silences (pure): label matchers in PromQL's syntax
//! (`{alertname="DiskFull", host=~"web-.*"}`), a time window, and the
//! check whether an alert is muted. Regexes are fully anchored, as in
//! Prometheus.

use super::state::Labels;
use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "=~")]
    Re,
    #[serde(rename = "!~")]
    NotRe,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Matcher {
    pub name: String,
    pub op: Op,
    pub value: String,
    #[serde(skip)]
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        (&self.name, self.op, &self.value) == (&o.name, o.op, &o.value)
    }
}

impl Matcher {
    pub fn new(name: &str, op: Op, value: &str) -> Result<Self, String> {
        let re = match op {
            Op::Re | Op::NotRe => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("bad regex for {name}: {e}"))?,
            ),
            _ => None,
        };
        Ok(Self {
            name: name.into(),
            op,
            value: value.into(),
            re,
        })
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.name).map(String::as_str).unwrap_or("");
        match (self.op, &self.re) {
            (Op::Eq, _) => v == self.value,
            (Op::Ne, _) => v != self.value,
            (Op::Re, Some(r)) => r.is_match(v),
            (Op::NotRe, Some(r)) => !r.is_match(v),
            _ => false,
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Re => "=~",
            Op::NotRe => "!~",
        };
        let v = self
            .value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        write!(f, "{}{op}\"{v}\"", self.name)
    }
}

/// Parses `{a="b", c=~"d.*"}` (braces optional). At least one matcher
/// must not match the empty string, or the silence would mute everything.
pub fn parse(text: &str) -> Result<Vec<Matcher>, String> {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::Expr;
    let t = text.trim();
    let t = if t.starts_with('{') {
        t.to_string()
    } else {
        format!("{{{t}}}")
    };
    let Expr::VectorSelector(vs) =
        crate::promql::parse_expr(&t).map_err(|e| format!("matchers: {e}"))?
    else {
        return Err("matchers look like {alertname=\"X\", host=~\"web-.*\"}".into());
    };
    let mut out = Vec::new();
    for m in vs.matchers.matchers {
        let op = match m.op {
            MatchOp::Equal => Op::Eq,
            MatchOp::NotEqual => Op::Ne,
            MatchOp::Re(_) => Op::Re,
            MatchOp::NotRe(_) => Op::NotRe,
        };
        out.push(Matcher::new(&m.name, op, &m.value)?);
    }
    let empty = Labels::new();
    if out.is_empty() || out.iter().all(|m| m.matches(&empty)) {
        return Err(
            "a silence needs a matcher that selects something, e.g. alertname=\"X\"".into(),
        );
    }
    Ok(out)
}

/// Matchers back from their stored JSON (regexes compiled again).
pub fn from_json(text: &str) -> Result<Vec<Matcher>, String> {
    let raw: Vec<Matcher> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    raw.into_iter()
        .map(|m| Matcher::new(&m.name, m.op, &m.value))
        .collect()
}

pub fn to_json(ms: &[Matcher]) -> String {
    serde_json::to_string(ms).expect("matchers serialise")
}

/// Exact matchers for one alert's labels: the UI's one-click silence.
pub fn for_labels(labels: &Labels) -> Vec<Matcher> {
    labels
        .iter()
        .filter_map(|(k, v)| Matcher::new(k, Op::Eq, v).ok())
        .collect()
}

#[derive(Debug, Clone)]
pub struct Silence {
    pub id: i64,
    pub matchers: Vec<Matcher>,
    pub starts_ms: i64,
    pub ends_ms: i64,
}

impl Silence {
    pub fn active(&self, now_ms: i64) -> bool {
        self.starts_ms <= now_ms && now_ms < self.ends_ms
    }

    pub fn mutes(&self, labels: &Labels, now_ms: i64) -> bool {
        self.active(now_ms) && self.matchers.iter().all(|m| m.matches(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn matchers_parse_match_and_round_trip() {
        let ms = parse(r#"alertname="DiskFull", host=~"web-.*", env!="dev""#).unwrap();
        let s = Silence {
            id: 1,
            matchers: ms.clone(),
            starts_ms: 0,
            ends_ms: 100,
        };
        assert!(s.mutes(&l(&[("alertname", "DiskFull"), ("host", "web-1")]), 50));
        assert!(!s.mutes(&l(&[("alertname", "DiskFull"), ("host", "db-1")]), 50));
        assert!(!s.mutes(
            &l(&[("alertname", "DiskFull"), ("host", "web-1"), ("env", "dev")]),
            50
        ));
        assert!(
            !s.mutes(&l(&[("alertname", "DiskFull"), ("host", "web-1")]), 100),
            "ended"
        );
        // Anchored: "web-.*" does not match "xweb-1".
        assert!(!s.mutes(&l(&[("alertname", "DiskFull"), ("host", "xweb-1")]), 50));
        let back = from_json(&to_json(&ms)).unwrap();
        assert_eq!(back, ms);
        assert!(back[1].matches(&l(&[("host", "web-9")])), "regex rebuilt");
        assert_eq!(ms[1].to_string(), "host=~\"web-.*\"");
        // Display is PromQL: it parses back to the same matcher.
        let odd = Matcher::new("x", Op::Eq, "a\"b\\c\nd").unwrap();
        assert_eq!(parse(&odd.to_string()).unwrap(), vec![odd]);
    }

    #[test]
    fn refuses_silences_that_mute_everything_or_do_not_parse() {
        assert!(parse(r#"host=~".*""#).is_err());
        assert!(parse("").is_err());
        assert!(parse("up{").is_err());
        assert!(parse(r#"host=~"(""#).is_err());
        assert!(parse(r#"{alertname="A"}"#).is_ok());
    }
}
