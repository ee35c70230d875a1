//! The evaluator: an expression at one timestamp. Range queries evaluate
//! the same expression at every step.

use super::plan::{self, at_ms, offset_ms};
use super::value::{
    has_same_labelset, signature, without_name, Metric, Sample, Series, Value, SAME_LABELSET,
};
use super::{aggregate, binary, functions, rollups, Limits, QueryError, Range, Result};
use promql_parser::parser::{Expr, SubqueryExpr};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Instant;

/// Nesting the evaluator refuses to recurse past. The parser's budget
/// keeps trees shallower than this; the check holds for trees built any
/// other way too, so no input can exhaust the evaluating thread's stack.
const MAX_EVAL_DEPTH: usize = super::budget::MAX_DEPTH + 8;
/// When less than this much stack is left, recursion continues on a new
/// heap-allocated segment of `STACK_GROWTH` bytes.
pub(crate) const STACK_RED_ZONE: usize = 128 * 1024;
pub(crate) const STACK_GROWTH: usize = 2 << 20;

pub struct Evaluator {
    pub r: Range,
    pub lookback: i64,
    pub(super) data: Vec<Vec<plan::Loaded>>,
    pub(super) keys: HashMap<String, usize>,
    /// Selector node address → its data, so the per-step lookup does not
    /// rebuild the selector's key (the AST is not moved while evaluating).
    pub(super) by_node: RefCell<HashMap<usize, Option<usize>>>,
    /// Matrix selector node address → its rollup buckets.
    pub(super) rollups: HashMap<usize, rollups::Served>,
    deadline: Instant,
    /// Current recursion depth of [`Self::eval`].
    depth: Cell<usize>,
    /// Most points a range result or one subquery's result may hold.
    pub(super) max_points: usize,
    /// What the answer comes with (see `annotations`).
    pub(super) notes: RefCell<super::annotations::Annotations>,
}

impl Evaluator {
    pub fn new(r: Range, limits: &Limits, plan: plan::Plan, deadline: Instant) -> Self {
        let mut keys = HashMap::new();
        let mut vecs = Vec::with_capacity(plan.data.len());
        for (k, v) in plan.data {
            keys.insert(k, vecs.len());
            vecs.push(v);
        }
        Self {
            r,
            lookback: limits.lookback.as_millis() as i64,
            data: vecs,
            keys,
            by_node: RefCell::new(HashMap::new()),
            rollups: plan.rollups,
            deadline,
            depth: Cell::new(0),
            max_points: limits.max_samples,
            notes: RefCell::new(Default::default()),
        }
    }

    pub(super) fn check_deadline(&self) -> Result<()> {
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout("evaluation".into()));
        }
        Ok(())
    }

    pub fn eval_instant(&self, e: &Expr) -> Result<Value> {
        let v = self.eval(e, self.r.start_ms)?;
        Ok(match v {
            Value::Vector(mut vs) if !keeps_order(e) => {
                vs.sort_by(|a, b| a.metric.cmp(&b.metric));
                Value::Vector(vs)
            }
            Value::Matrix(mut m) => {
                m.sort_by(|a, b| a.metric.cmp(&b.metric));
                Value::Matrix(m)
            }
            other => other,
        })
    }

    pub fn eval_range(&self, e: &Expr) -> Result<Value> {
        // The commonest panel query: no step needs evaluating on its own.
        if let Some(vs) = bare_selector(e) {
            return Ok(Value::Matrix(self.selector_range(vs)?));
        }
        let mut series: Vec<Series> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        // Steps usually yield the same series in the same order: try the
        // previous step's position before hashing the labels.
        let mut last_order: Vec<usize> = Vec::new();
        let mut points = 0usize;
        let mut t = self.r.start_ms;
        while t <= self.r.end_ms {
            self.check_deadline()?;
            let samples = match self.eval(e, t)? {
                Value::Scalar(v) => vec![Sample { metric: Metric::new(), t, v }],
                Value::Vector(vs) => vs,
                other => {
                    return Err(QueryError::BadData(format!(
                        "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                        range_type_name(&other)
                    )))
                }
            };
            points += samples.len();
            if points > self.max_points {
                return Err(self.too_many_points());
            }
            let mut order = Vec::with_capacity(samples.len());
            for (k, s) in samples.into_iter().enumerate() {
                let i = match last_order.get(k) {
                    Some(&i) if series[i].metric == s.metric => i,
                    _ => *index.entry(signature(&s.metric)).or_insert_with(|| {
                        series.push(Series {
                            metric: s.metric.clone(),
                            points: vec![],
                        });
                        series.len() - 1
                    }),
                };
                if series[i].points.last().is_some_and(|p| p.0 == t) {
                    return Err(QueryError::Execution(SAME_LABELSET.into()));
                }
                series[i].points.push((t, s.v));
                order.push(i);
            }
            last_order = order;
            t += self.r.step_ms;
        }
        series.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(Value::Matrix(series))
    }

    pub fn eval(&self, e: &Expr, t: i64) -> Result<Value> {
        let depth = self.depth.get();
        if depth >= MAX_EVAL_DEPTH {
            return Err(QueryError::Execution(format!(
                "query nests deeper than {MAX_EVAL_DEPTH} levels"
            )));
        }
        self.depth.set(depth + 1);
        // Frames differ by build and function (a debug build's `call` takes
        // about 14 KiB a level): grow onto the heap rather than trust the
        // thread's stack to fit the depth budget.
        let v = stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.eval_node(e, t));
        self.depth.set(depth);
        v
    }

    pub(super) fn too_many_points(&self) -> QueryError {
        QueryError::Execution(format!(
            "query processing would hold more than {} points in memory; narrow the selectors, the time range or the step",
            self.max_points
        ))
    }

    fn eval_node(&self, e: &Expr, t: i64) -> Result<Value> {
        let v = self.eval_node_unchecked(e, t)?;
        // Selectors give distinct series and aggregations distinct groups;
        // operators and functions can make two alike.
        if matches!(e, Expr::Unary(_) | Expr::Binary(_) | Expr::Call(_)) {
            if let Value::Vector(vs) = &v {
                if has_same_labelset(vs) {
                    return Err(QueryError::Execution(SAME_LABELSET.into()));
                }
            }
        }
        Ok(v)
    }

    fn eval_node_unchecked(&self, e: &Expr, t: i64) -> Result<Value> {
        match e {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(vs) => Ok(Value::Vector(
                    vs.into_iter()
                        .map(|s| Sample {
                            metric: without_name(&s.metric),
                            t: s.t,
                            v: -s.v,
                        })
                        .collect(),
                )),
                other => Err(QueryError::Execution(format!(
                    "unary minus on {}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.select_instant(vs, t))),
            Expr::MatrixSelector(ms) => Ok(Value::Matrix(self.select_range(
                &ms.vs,
                ms.range.as_millis() as i64,
                t,
            ))),
            Expr::Subquery(sq) => self.subquery(sq, t).map(Value::Matrix),
            Expr::Binary(b) => binary::eval(self, b, t),
            Expr::Aggregate(a) => aggregate::eval(self, a, t),
            Expr::Call(c) => functions::call(self, c, t),
            Expr::Extension(_) => Err(QueryError::Execution(
                "extension expressions are not supported".into(),
            )),
        }
    }

    /// Evaluates the inner expression at step-aligned times in
    /// (ref - range, ref].
    pub fn subquery(&self, sq: &SubqueryExpr, t: i64) -> Result<Vec<Series>> {
        let rt = at_ms(&sq.at, self.r).unwrap_or(t) - offset_ms(&sq.offset);
        let step = super::budget::subquery_step_ms(sq);
        let range = sq.range.as_millis() as i64;
        let mut ti = (rt - range).div_euclid(step) * step;
        if ti <= rt - range {
            ti += step;
        }
        let mut out: HashMap<String, Series> = HashMap::new();
        let mut points = 0usize;
        while ti <= rt {
            self.check_deadline()?;
            let v = self.eval(&sq.expr, ti)?;
            points += match &v {
                Value::Vector(vs) => vs.len(),
                _ => 1,
            };
            if points > self.max_points {
                return Err(self.too_many_points());
            }
            match v {
                Value::Scalar(v) => out
                    .entry(String::new())
                    .or_insert_with(|| Series {
                        metric: Metric::new(),
                        points: vec![],
                    })
                    .points
                    .push((ti, v)),
                Value::Vector(vs) => {
                    for s in vs {
                        out.entry(signature(&s.metric))
                            .or_insert_with(|| Series {
                                metric: s.metric.clone(),
                                points: vec![],
                            })
                            .points
                            .push((ti, s.v));
                    }
                }
                other => {
                    return Err(QueryError::Execution(format!(
                        "subquery of a {} is not allowed",
                        other.type_name()
                    )))
                }
            }
            ti += step;
        }
        let mut m: Vec<Series> = out.into_values().collect();
        m.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(m)
    }

    /// Evaluates an expression that must yield an instant vector.
    pub fn vector(&self, e: &Expr, t: i64) -> Result<Vec<Sample>> {
        match self.eval(e, t)? {
            Value::Vector(v) => Ok(v),
            other => Err(QueryError::Execution(format!(
                "expected instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    pub fn scalar(&self, e: &Expr, t: i64) -> Result<f64> {
        match self.eval(e, t)? {
            Value::Scalar(v) => Ok(v),
            other => Err(QueryError::Execution(format!(
                "expected scalar, got {}",
                other.type_name()
            ))),
        }
    }

    /// A range-vector argument: a matrix selector or a subquery, with the
    /// window bounds functions like `rate` extrapolate to.
    pub fn matrix_arg(&self, e: &Expr, t: i64) -> Result<(Vec<Series>, i64, i64)> {
        match e {
            Expr::MatrixSelector(ms) => {
                let range = ms.range.as_millis() as i64;
                let rt = self.ref_time(&ms.vs, t);
                Ok((self.select_range(&ms.vs, range, t), rt - range, rt))
            }
            Expr::Subquery(sq) => {
                let rt = at_ms(&sq.at, self.r).unwrap_or(t) - offset_ms(&sq.offset);
                let range = sq.range.as_millis() as i64;
                Ok((self.subquery(sq, t)?, rt - range, rt))
            }
            Expr::Paren(p) => self.matrix_arg(&p.expr, t),
            _ => Err(QueryError::Execution(
                "expected a range vector argument".into(),
            )),
        }
    }
}

fn range_type_name(v: &Value) -> &'static str {
    match v {
        Value::Matrix(_) => "range vector",
        Value::String(_) => "string",
        _ => v.type_name(),
    }
}

/// Results of these keep the order the function gave them.
fn keeps_order(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => keeps_order(&p.expr),
        Expr::Call(c) => matches!(
            c.func.name,
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc"
        ),
        Expr::Aggregate(a) => matches!(a.op.to_string().as_str(), "topk" | "bottomk"),
        _ => false,
    }
}

/// The selector a range query asks for as it is (`m{a="b"}`, `(m)`).
fn bare_selector(e: &Expr) -> Option<&promql_parser::parser::VectorSelector> {
    match e {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::Paren(p) => bare_selector(&p.expr),
        _ => None,
    }
}
