//! Before evaluating, find every selector and the time window it will be
//! read over (through offsets, `@`, ranges and subqueries), then load each
//! from storage once. Selectors with the same name and matchers share one
//! load over the union of their windows.

use super::value::{Metric, NAME};
use super::{rollups, Limits, QueryError, Range, Result};
use crate::rollup::Coverage;
use crate::source::{RollupPoint, Source};
use dozor_common::Labels;
use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

pub struct Loaded {
    pub metric: Metric,
    /// Oldest first; may contain stale markers.
    pub points: Vec<(i64, f64)>,
    /// The points without stale markers, kept only for series that have
    /// any (range windows skip markers; most series have none).
    clean: Option<Vec<(i64, f64)>>,
}

impl Loaded {
    pub fn new(metric: Metric, points: Vec<(i64, f64)>) -> Self {
        let clean = points.iter().any(|p| super::value::is_stale(p.1)).then(|| {
            points
                .iter()
                .copied()
                .filter(|p| !super::value::is_stale(p.1))
                .collect()
        });
        Self {
            metric,
            points,
            clean,
        }
    }

    /// Points for range windows: stale markers removed.
    pub fn clean(&self) -> &[(i64, f64)] {
        self.clean.as_deref().unwrap_or(&self.points)
    }
}

pub type Data = HashMap<String, Vec<Loaded>>;

/// The key under which a selector's data is loaded: its name and matchers
/// without offset or `@`.
pub fn key(vs: &VectorSelector) -> String {
    let mut bare = vs.clone();
    bare.offset = None;
    bare.at = None;
    bare.to_string()
}

pub fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
    }
}

pub fn at_ms(at: &Option<AtModifier>, r: Range) -> Option<i64> {
    at.as_ref().map(|a| match a {
        AtModifier::Start => r.start_ms,
        AtModifier::End => r.end_ms,
        AtModifier::At(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        },
    })
}

/// The evaluation times [lo, hi] of a node, moved by its `@` and offset.
fn shift(at: &Option<AtModifier>, off: &Option<Offset>, lo: i64, hi: i64, r: Range) -> (i64, i64) {
    let o = offset_ms(off);
    match at_ms(at, r) {
        Some(t) => (t - o, t - o),
        None => (lo - o, hi - o),
    }
}

type Windows = HashMap<String, (VectorSelector, i64, i64)>;

fn add(w: &mut Windows, vs: &VectorSelector, from: i64, to: i64) {
    w.entry(key(vs))
        .and_modify(|e| {
            e.1 = e.1.min(from);
            e.2 = e.2.max(to);
        })
        .or_insert((vs.clone(), from, to));
}

/// What the walk over the AST collects.
struct Walk<'a> {
    r: Range,
    lookback: i64,
    windows: Windows,
    /// Present when some call may read rollups.
    coverage: Option<&'a Coverage>,
    rollups: Vec<rollups::Request>,
}

fn windows(e: &Expr, lo: i64, hi: i64, in_subquery: bool, w: &mut Walk) {
    use super::eval::{STACK_GROWTH, STACK_RED_ZONE};
    stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
        windows_node(e, lo, hi, in_subquery, w)
    })
}

fn windows_node(e: &Expr, lo: i64, hi: i64, in_subquery: bool, w: &mut Walk) {
    let r = w.r;
    match e {
        Expr::VectorSelector(vs) => {
            let (a, b) = shift(&vs.at, &vs.offset, lo, hi, r);
            add(&mut w.windows, vs, a - w.lookback, b);
        }
        Expr::MatrixSelector(ms) => {
            let (a, b) = shift(&ms.vs.at, &ms.vs.offset, lo, hi, r);
            add(&mut w.windows, &ms.vs, a - ms.range.as_millis() as i64, b);
        }
        Expr::Subquery(sq) => {
            let (a, b) = shift(&sq.at, &sq.offset, lo, hi, r);
            windows(&sq.expr, a - sq.range.as_millis() as i64, b, true, w);
        }
        Expr::Aggregate(a) => {
            windows(&a.expr, lo, hi, in_subquery, w);
            if let Some(p) = &a.param {
                windows(p, lo, hi, in_subquery, w);
            }
        }
        Expr::Unary(u) => windows(&u.expr, lo, hi, in_subquery, w),
        Expr::Binary(b) => {
            windows(&b.lhs, lo, hi, in_subquery, w);
            windows(&b.rhs, lo, hi, in_subquery, w);
        }
        Expr::Paren(p) => windows(&p.expr, lo, hi, in_subquery, w),
        Expr::Call(c) => {
            let chosen = match (in_subquery, w.coverage) {
                (false, Some(cov)) => rollups::choose(c, r, cov),
                _ => None,
            };
            match (chosen, c.args.args.first().map(|a| a.as_ref())) {
                (Some(req), Some(Expr::MatrixSelector(ms))) => {
                    // Only the part above the watermark is read raw; an
                    // empty window still lists the selector's series.
                    let (from, to) = req.raw.unwrap_or((req.to + 1, req.to));
                    add(&mut w.windows, &ms.vs, from, to);
                    w.rollups.push(req);
                }
                _ => {
                    for a in &c.args.args {
                        windows(a, lo, hi, in_subquery, w);
                    }
                }
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Whether every matcher of a selector accepts `metric`.
pub fn matches(vs: &VectorSelector, metric: &Metric) -> bool {
    let get = |m: &Matcher| metric.get(&m.name).map(String::as_str).unwrap_or("");
    let all = |ms: &[Matcher]| ms.iter().all(|m| m.is_match(get(m)));
    if let Some(name) = &vs.name {
        if metric.get(NAME) != Some(name) {
            return false;
        }
    }
    if vs.matchers.or_matchers.is_empty() {
        all(&vs.matchers.matchers)
    } else {
        all(&vs.matchers.matchers) && vs.matchers.or_matchers.iter().any(|g| all(g))
    }
}

/// The metric name and non-empty equality matchers, for pushing to SQL.
fn pushdown(vs: &VectorSelector) -> (Option<String>, Labels) {
    let mut name = vs.name.clone();
    let mut equal = Labels::new();
    if vs.matchers.or_matchers.is_empty() {
        for m in &vs.matchers.matchers {
            if matches!(m.op, MatchOp::Equal) && !m.value.is_empty() {
                if m.name == NAME {
                    name = Some(m.value.clone());
                } else {
                    equal.insert(m.name.clone(), m.value.clone());
                }
            }
        }
    }
    (name, equal)
}

/// Whether [`pushdown`] takes every matcher of `vs` to the store, so
/// every series it finds is picked.
fn equalities_only(vs: &VectorSelector) -> bool {
    vs.matchers.or_matchers.is_empty()
        && vs
            .matchers
            .matchers
            .iter()
            .all(|m| matches!(m.op, MatchOp::Equal) && !m.value.is_empty())
}

/// Everything evaluation reads: raw samples per selector, and rollup
/// buckets for the calls [`rollups::choose`] picked.
#[derive(Default)]
pub struct Plan {
    pub data: Data,
    pub rollups: HashMap<usize, rollups::Served>,
    /// Raw samples and rollup buckets read from storage.
    pub samples: usize,
    pub buckets: usize,
}

/// Loads what `expr` over `r` reads; `use_rollups` false reads raw only.
pub async fn load(
    store: &dyn Source,
    expr: &Expr,
    r: Range,
    limits: &Limits,
    use_rollups: bool,
) -> Result<Plan> {
    let coverage = if use_rollups && rollups::candidate(expr) {
        Some(store.rollup_coverage().await?)
    } else {
        None
    };
    let mut w = Walk {
        r,
        lookback: limits.lookback.as_millis() as i64,
        windows: Windows::new(),
        coverage: coverage.as_ref(),
        rollups: Vec::new(),
    };
    windows(expr, r.start_ms, r.end_ms, false, &mut w);
    let (windows, requests) = (w.windows, w.rollups);
    let mut plan = Plan::default();
    let mut ids_by_key: HashMap<String, Vec<i64>> = HashMap::new();
    let mut total = 0usize;
    let too_many = || {
        QueryError::Execution(format!(
            "query processing would load too many samples into memory (limit {}); narrow the selectors or the time range",
            limits.max_samples
        ))
    };
    for (key, (vs, from, to)) in windows {
        let (name, equal) = pushdown(&vs);
        let limit = limits.max_series + 1;
        let (candidates, read) = if equalities_only(&vs) && from <= to {
            let (c, s) = store
                .select(name.as_deref(), &equal, limit, from, to)
                .await?;
            (c, Some(s))
        } else {
            (
                store.find_series(name.as_deref(), &equal, limit).await?,
                None,
            )
        };
        if candidates.len() > limits.max_series {
            return Err(QueryError::Execution(format!(
                "selector {key} matches more than {} series; narrow it with more label matchers",
                limits.max_series
            )));
        }
        let mut picked = Vec::new();
        for s in candidates {
            let mut metric = Metric::from(s.labels);
            metric.insert(NAME.to_string(), s.metric);
            if matches(&vs, &metric) {
                picked.push((s.id, metric));
            }
        }
        let ids: Vec<i64> = picked.iter().map(|p| p.0).collect();
        let mut samples = match read {
            Some(s) => s,
            None if from <= to => store.samples_many(&ids, from, to).await?,
            None => HashMap::new(),
        };
        let mut loaded = Vec::with_capacity(picked.len());
        for (id, metric) in picked {
            let points: Vec<(i64, f64)> = samples
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|s| (s.ts_ms, s.value))
                .collect();
            total += points.len();
            if total > limits.max_samples {
                return Err(too_many());
            }
            loaded.push(Loaded::new(metric, points));
        }
        plan.data.insert(key.clone(), loaded);
        plan.samples = total;
        ids_by_key.insert(key, ids);
    }
    for req in requests {
        let ids = ids_by_key.get(&req.key).map(Vec::as_slice).unwrap_or(&[]);
        let mut got = store.rollups_many(ids, req.res, req.from, req.to).await?;
        let buckets: Vec<Vec<RollupPoint>> = ids
            .iter()
            .map(|id| got.remove(id).unwrap_or_default())
            .collect();
        let n = buckets.iter().map(Vec::len).sum::<usize>();
        plan.buckets += n;
        total += n;
        if total > limits.max_samples {
            return Err(too_many());
        }
        plan.rollups.insert(
            req.node,
            rollups::Served {
                key: req.key,
                width: req.res.width_ms(),
                complete_before: req.complete_before,
                buckets,
            },
        );
    }
    Ok(plan)
}
