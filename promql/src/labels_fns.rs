//! Functions over label values: `label_replace`, `label_join` and
//! `sort_by_label`, with Prometheus's natural order for the last.

use super::value::Sample;
use super::{QueryError, Result};

pub fn sort_by_label(mut vs: Vec<Sample>, labels: &[String], desc: bool) -> Vec<Sample> {
    vs.sort_by(|a, b| {
        let o = labels
            .iter()
            .map(|l| {
                let (x, y) = (a.metric.get(l), b.metric.get(l));
                natural_cmp(x.map_or("", |v| v), y.map_or("", |v| v))
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.metric.cmp(&b.metric));
        if desc {
            o.reverse()
        } else {
            o
        }
    });
    vs
}

pub fn label_replace(
    vs: Vec<Sample>,
    dst: &str,
    repl: &str,
    src: &str,
    re: &str,
) -> Result<Vec<Sample>> {
    let re = regex::Regex::new(&format!("^(?s:{re})$")).map_err(|e| {
        QueryError::BadData(format!(
            "invalid regular expression in label_replace(): {e}"
        ))
    })?;
    check_label_name(dst)?;
    let mut out = Vec::with_capacity(vs.len());
    for mut s in vs {
        let value = s.metric.get(src).cloned().unwrap_or_default();
        if let Some(caps) = re.captures(&value) {
            let mut res = String::new();
            caps.expand(repl, &mut res);
            if res.is_empty() {
                s.metric.remove(dst);
            } else {
                s.metric.insert(dst.to_string(), res);
            }
        }
        out.push(s);
    }
    Ok(out)
}

pub fn label_join(vs: Vec<Sample>, dst: &str, sep: &str, srcs: &[String]) -> Result<Vec<Sample>> {
    check_label_name(dst)?;
    Ok(vs
        .into_iter()
        .map(|mut s| {
            let joined = srcs
                .iter()
                .map(|l| s.metric.get(l).cloned().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(sep);
            if joined.is_empty() {
                s.metric.remove(dst);
            } else {
                s.metric.insert(dst.to_string(), joined);
            }
            s
        })
        .collect())
}

fn check_label_name(name: &str) -> Result<()> {
    if dozor_common::model::is_label_name(name) {
        Ok(())
    } else {
        Err(QueryError::BadData(format!(
            "invalid destination label name {name:?}"
        )))
    }
}

/// Natural order, as Prometheus's `sort_by_label` compares label values:
/// runs of digits compare as numbers (`cpu="2"` before `cpu="10"`), the
/// rest as text; equal by that, the plain text decides.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> impl Iterator<Item = &str> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digits = first.is_ascii_digit();
            let end = rest
                .find(|c: char| c.is_ascii_digit() != digits)
                .unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(end);
            rest = tail;
            Some(chunk)
        })
    }
    let (mut x, mut y) = (chunks(a), chunks(b));
    loop {
        let o = match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(p), Some(q)) => {
                if p.as_bytes()[0].is_ascii_digit() && q.as_bytes()[0].is_ascii_digit() {
                    // By value without parsing (any length): fewer
                    // significant digits is smaller.
                    let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                    p.len().cmp(&q.len()).then_with(|| p.cmp(q))
                } else {
                    p.cmp(q)
                }
            }
        };
        if o.is_ne() {
            return o;
        }
    }
}
