//! The rule editor's preview: the expression over the last hours, and
//! where the rule would have fired. The rule is replayed through the same
//! state machine the engine runs (`for`, `keep_firing_for`, recovery), at
//! each step of a range query, so the bands are what the rule would have
//! done, not just where the condition held.

use super::rules::AlertRule;
use super::state::{self, Active, Labels, State};
use crate::promql::{self, value::Value, Range};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Series drawn at most; the rest are counted.
pub const MAX_SERIES: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct Preview {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
    /// What is drawn: the left side of `A > N`, else the expression.
    pub series: Vec<(String, Vec<(i64, f64)>)>,
    pub more_series: usize,
    pub threshold: Option<f64>,
    /// Time ranges in which at least one alert would have been firing.
    pub firing: Vec<(i64, i64)>,
    /// How many times an alert would have started firing.
    pub episodes: usize,
    /// How many alerts (label sets) would have fired.
    pub alerts: usize,
}

/// `A > N` (and the other comparisons with a number on the right):
/// A's text and N.
fn comparison(expr: &str) -> Option<(String, f64)> {
    use promql_parser::parser::Expr;
    let Ok(Expr::Binary(b)) = crate::promql::parse_expr(expr) else {
        return None;
    };
    if !matches!(b.op.to_string().as_str(), ">" | ">=" | "<" | "<=") {
        return None;
    }
    let Expr::NumberLiteral(n) = *b.rhs else {
        return None;
    };
    Some((b.lhs.to_string(), n.val))
}

fn matrix(v: Value) -> Vec<promql::value::Series> {
    match v {
        Value::Matrix(m) => m,
        _ => Vec::new(),
    }
}

fn name_of(m: &promql::value::Metric) -> String {
    let l = promql::value::without_name(m);
    if l.is_empty() {
        return "value".into();
    }
    l.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replays `rule` over `[start, end]` every `step`.
pub async fn run(
    engine: &promql::Engine,
    rule: &AlertRule,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<Preview, String> {
    let range = Range {
        start_ms,
        end_ms,
        step_ms,
    };
    let q = |e: String| async move { engine.range(&e, range).await.map_err(|e| e.to_string()) };
    let fired = matrix(q(rule.expr.clone()).await?);
    let recovered = match &rule.recovery {
        Some(r) => matrix(q(r.clone()).await?),
        None => Vec::new(),
    };
    let (shown, threshold) = match comparison(&rule.expr) {
        Some((lhs, n)) => (matrix(q(lhs).await?), Some(n)),
        None => (fired.clone(), None),
    };
    // Per step: the alerts the expression returned, and recovery's.
    let mut at: HashMap<i64, Vec<(Labels, f64)>> = HashMap::new();
    for s in &fired {
        let l = promql::value::without_name(&s.metric).into_map();
        for (t, v) in &s.points {
            at.entry(*t).or_default().push((l.clone(), *v));
        }
    }
    let mut rec: HashMap<i64, HashSet<Labels>> = HashMap::new();
    for s in &recovered {
        let l = promql::value::without_name(&s.metric).into_map();
        for (t, _) in &s.points {
            rec.entry(*t).or_default().insert(l.clone());
        }
    }
    let mut active: BTreeMap<Labels, Active> = BTreeMap::new();
    let mut p = Preview {
        start_ms,
        end_ms,
        step_ms,
        threshold,
        ..Default::default()
    };
    let mut alerts = HashSet::new();
    let mut band: Option<(i64, i64)> = None;
    let mut t = start_ms;
    while t <= end_ms {
        let results = at.remove(&t).unwrap_or_default();
        let recovered = rec.remove(&t).unwrap_or_default();
        for tr in state::step(&mut active, rule.timing, results, &recovered, t) {
            if tr.change == state::Change::Firing {
                p.episodes += 1;
                alerts.insert(tr.labels);
            }
        }
        let firing = active.values().any(|a| a.state == State::Firing);
        band = match (band, firing) {
            (None, true) => Some((t, t)),
            (Some((s, _)), true) => Some((s, t)),
            (Some(b), false) => {
                p.firing.push(b);
                None
            }
            (None, false) => None,
        };
        t += step_ms;
    }
    p.firing.extend(band);
    p.alerts = alerts.len();
    p.more_series = shown.len().saturating_sub(MAX_SERIES);
    p.series = shown
        .into_iter()
        .take(MAX_SERIES)
        .map(|s| (name_of(&s.metric), s.points))
        .collect();
    Ok(p)
}
