//! Function calls.

use super::eval::Evaluator;
use super::labels_fns;
use super::range_fns::{self, double_exponential_smoothing, linear_regression, over_time};
use super::value::{without_name, Metric, Sample, Value, NAME};
use super::{QueryError, Result};
use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};
use std::collections::HashMap;

/// Go's math.Max: +Inf wins over NaN, NaN over any other number, and +0
/// over -0 (f64::max ignores NaN and may pick either zero).
fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's math.Min: -Inf wins over NaN, NaN over any other number, and -0
/// over +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

fn math(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sqrt" => f64::sqrt,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        "acos" => f64::acos,
        "acosh" => f64::acosh,
        "asin" => f64::asin,
        "asinh" => f64::asinh,
        "atan" => f64::atan,
        "atanh" => f64::atanh,
        "cos" => f64::cos,
        "cosh" => f64::cosh,
        "sin" => f64::sin,
        "sinh" => f64::sinh,
        "tan" => f64::tan,
        "tanh" => f64::tanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        _ => return None,
    })
}

fn map_vector(vs: Vec<Sample>, f: impl Fn(f64) -> f64) -> Value {
    Value::Vector(
        vs.into_iter()
            .map(|s| Sample {
                metric: without_name(&s.metric),
                t: s.t,
                v: f(s.v),
            })
            .collect(),
    )
}

pub fn call(ev: &Evaluator, c: &Call, t: i64) -> Result<Value> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let arg = |i: usize| -> Result<&Expr> {
        args.get(i)
            .copied()
            .ok_or_else(|| QueryError::BadData(format!("{name}: missing argument {}", i + 1)))
    };
    let string_arg = |i: usize| -> Result<String> {
        match ev.eval(arg(i)?, t)? {
            Value::String(s) => Ok(s),
            other => Err(QueryError::BadData(format!(
                "{name}: argument {} must be a string, got {}",
                i + 1,
                other.type_name()
            ))),
        }
    };

    if name.starts_with("histogram_") {
        return super::histogram::call(ev, name, &args, t);
    }
    if let Some(f) = math(name) {
        return Ok(map_vector(ev.vector(arg(0)?, t)?, f));
    }
    match name {
        name if range_fns::WINDOW_FUNCTIONS.contains(&name) => {
            let mut out = Vec::new();
            ev.each_window(arg(0)?, t, |metric, points, start, end| {
                if let Some(v) = range_fns::window_value(ev, name, metric, points, start, end) {
                    out.push(Sample {
                        metric: without_name(metric),
                        t,
                        v,
                    });
                }
            })?;
            Ok(Value::Vector(out))
        }
        "predict_linear" => {
            let (series, _, _) = ev.matrix_arg(arg(0)?, t)?;
            let secs = ev.scalar(arg(1)?, t)?;
            Ok(Value::Vector(
                series
                    .into_iter()
                    .filter(|s| s.points.len() >= 2)
                    .map(|s| {
                        let (slope, icpt) = linear_regression(&s.points, t);
                        Sample {
                            metric: without_name(&s.metric),
                            t,
                            v: slope * secs + icpt,
                        }
                    })
                    .collect(),
            ))
        }
        "double_exponential_smoothing" => {
            let (series, _, _) = ev.matrix_arg(arg(0)?, t)?;
            let sf = ev.scalar(arg(1)?, t)?;
            let tf = ev.scalar(arg(2)?, t)?;
            // Negated so NaN is refused too.
            if !(sf > 0.0 && sf < 1.0) {
                return Err(QueryError::Execution(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}"
                )));
            }
            if !(tf > 0.0 && tf < 1.0) {
                return Err(QueryError::Execution(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf}"
                )));
            }
            Ok(Value::Vector(
                series
                    .into_iter()
                    .filter(|s| s.points.len() >= 2)
                    .map(|s| Sample {
                        metric: without_name(&s.metric),
                        t,
                        v: double_exponential_smoothing(&s.points, sf, tf),
                    })
                    .collect(),
            ))
        }
        "quantile_over_time" => {
            let q = ev.scalar(arg(0)?, t)?;
            let (series, _, _) = ev.matrix_arg(arg(1)?, t)?;
            Ok(Value::Vector(
                series
                    .into_iter()
                    .filter_map(|s| {
                        over_time(name, &s.points, Some(q)).map(|v| Sample {
                            metric: without_name(&s.metric),
                            t,
                            v,
                        })
                    })
                    .collect(),
            ))
        }
        n if n.ends_with("_over_time") && n != "absent_over_time" => {
            if let Some(out) = ev.over_time_from_rollups(n, arg(0)?, t) {
                return Ok(Value::Vector(out));
            }
            let keep_name = matches!(n, "last_over_time" | "first_over_time");
            let mut out = Vec::new();
            let mut unknown = false;
            ev.each_window(arg(0)?, t, |metric, points, _, _| {
                match over_time(n, points, None) {
                    Some(v) => {
                        let metric = if keep_name {
                            metric.clone()
                        } else {
                            without_name(metric)
                        };
                        out.push(Sample { metric, t, v });
                    }
                    None => unknown = true,
                }
            })?;
            if unknown {
                return Err(QueryError::BadData(format!("unknown function {n}")));
            }
            Ok(Value::Vector(out))
        }
        "absent_over_time" => {
            let (series, _, _) = ev.matrix_arg(arg(0)?, t)?;
            Ok(absent(series.is_empty(), arg(0)?, t))
        }
        "absent" => {
            let present = !ev.vector(arg(0)?, t)?.is_empty();
            Ok(absent(!present, arg(0)?, t))
        }
        "round" => {
            let vs = ev.vector(arg(0)?, t)?;
            let to = match args.get(1) {
                Some(e) => ev.scalar(e, t)?,
                None => 1.0,
            };
            let inv = 1.0 / to;
            Ok(map_vector(vs, |v| (v * inv + 0.5).floor() / inv))
        }
        "clamp" => {
            let vs = ev.vector(arg(0)?, t)?;
            let (lo, hi) = (ev.scalar(arg(1)?, t)?, ev.scalar(arg(2)?, t)?);
            if hi < lo {
                return Ok(Value::Vector(vec![]));
            }
            Ok(map_vector(vs, |v| go_max(lo, go_min(hi, v))))
        }
        "clamp_min" => {
            let vs = ev.vector(arg(0)?, t)?;
            let lo = ev.scalar(arg(1)?, t)?;
            Ok(map_vector(vs, |v| go_max(lo, v)))
        }
        "clamp_max" => {
            let vs = ev.vector(arg(0)?, t)?;
            let hi = ev.scalar(arg(1)?, t)?;
            Ok(map_vector(vs, |v| go_min(hi, v)))
        }
        "time" => Ok(Value::Scalar(t as f64 / 1000.0)),
        // Prometheus's experimental query-range functions, in seconds; an
        // instant query is a range of one step of zero.
        "start" => Ok(Value::Scalar(ev.r.start_ms as f64 / 1000.0)),
        "end" => Ok(Value::Scalar(ev.r.end_ms as f64 / 1000.0)),
        "range" => Ok(Value::Scalar((ev.r.end_ms - ev.r.start_ms) as f64 / 1000.0)),
        "step" => Ok(Value::Scalar(ev.r.step_ms as f64 / 1000.0)),
        "pi" => Ok(Value::Scalar(std::f64::consts::PI)),
        "vector" => Ok(Value::Vector(vec![Sample {
            metric: Metric::new(),
            t,
            v: ev.scalar(arg(0)?, t)?,
        }])),
        "scalar" => {
            let vs = ev.vector(arg(0)?, t)?;
            Ok(Value::Scalar(if vs.len() == 1 {
                vs[0].v
            } else {
                f64::NAN
            }))
        }
        "timestamp" => {
            let vs = match strip_parens(arg(0)?) {
                Expr::VectorSelector(sel) => ev.select_instant_at(sel, t, true),
                other => ev.vector(other, t)?,
            };
            Ok(Value::Vector(
                vs.into_iter()
                    .map(|s| Sample {
                        metric: without_name(&s.metric),
                        t,
                        v: s.t as f64 / 1000.0,
                    })
                    .collect(),
            ))
        }
        "sort" | "sort_desc" => {
            let mut vs = ev.vector(arg(0)?, t)?;
            let desc = name == "sort_desc";
            vs.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if desc => b.v.total_cmp(&a.v),
                _ => a.v.total_cmp(&b.v),
            });
            Ok(Value::Vector(vs))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let vs = ev.vector(arg(0)?, t)?;
            let labels: Vec<String> = (1..args.len()).map(string_arg).collect::<Result<_>>()?;
            let desc = name.ends_with("_desc");
            Ok(Value::Vector(labels_fns::sort_by_label(vs, &labels, desc)))
        }
        "label_replace" => {
            let vs = ev.vector(arg(0)?, t)?;
            let (dst, repl, src, re) = (
                string_arg(1)?,
                string_arg(2)?,
                string_arg(3)?,
                string_arg(4)?,
            );
            labels_fns::label_replace(vs, &dst, &repl, &src, &re).map(Value::Vector)
        }
        "label_join" => {
            let vs = ev.vector(arg(0)?, t)?;
            let (dst, sep) = (string_arg(1)?, string_arg(2)?);
            let srcs: Vec<String> = (3..args.len()).map(string_arg).collect::<Result<_>>()?;
            labels_fns::label_join(vs, &dst, &sep, &srcs).map(Value::Vector)
        }
        "max_of" => Ok(Value::Scalar(go_max(
            ev.scalar(arg(0)?, t)?,
            ev.scalar(arg(1)?, t)?,
        ))),
        "min_of" => Ok(Value::Scalar(go_min(
            ev.scalar(arg(0)?, t)?,
            ev.scalar(arg(1)?, t)?,
        ))),
        "day_of_week" | "day_of_month" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let vs = match args.first() {
                Some(e) => ev.vector(e, t)?,
                None => vec![Sample {
                    metric: Metric::new(),
                    t,
                    v: t as f64 / 1000.0,
                }],
            };
            Ok(map_vector(vs, |v| super::dates::date_part(name, v)))
        }
        other => Err(QueryError::BadData(format!(
            "function {other:?} is not supported by dozor"
        ))),
    }
}

fn strip_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip_parens(&p.expr),
        other => other,
    }
}

/// absent()/absent_over_time(): 1 with the selector's equality labels.
fn absent(is_absent: bool, arg: &Expr, t: i64) -> Value {
    if !is_absent {
        return Value::Vector(vec![]);
    }
    let vs = match strip_parens(arg) {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    };
    let mut metric = Metric::new();
    if let Some(vs) = vs {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for m in &vs.matchers.matchers {
            *seen.entry(m.name.as_str()).or_default() += 1;
        }
        for m in &vs.matchers.matchers {
            if matches!(m.op, MatchOp::Equal) && m.name != NAME && seen[m.name.as_str()] == 1 {
                metric.insert(m.name.clone(), m.value.clone());
            }
        }
    }
    Value::Vector(vec![Sample { metric, t, v: 1.0 }])
}
