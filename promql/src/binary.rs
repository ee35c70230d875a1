//! Binary operators: arithmetic, comparison (with and without `bool`),
//! set operators, and vector matching with on/ignoring and group_left/right.

use super::eval::Evaluator;
use super::value::{signature, without_name, Metric, Sample, Value, NAME};
use super::{QueryError, Result};
use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};
use std::collections::{HashMap, HashSet};

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

fn is_set(op: &str) -> bool {
    matches!(op, "and" | "or" | "unless")
}

/// Applies an arithmetic operator; None for any other.
fn apply(op: &str, l: f64, r: f64) -> Option<f64> {
    Some(match op {
        "+" => l + r,
        "-" => l - r,
        "*" => l * r,
        "/" => l / r,
        // Go's math.Mod: result has the sign of the dividend.
        "%" => l % r,
        "^" => l.powf(r),
        "atan2" => l.atan2(r),
        _ => return None,
    })
}

fn compare(op: &str, l: f64, r: f64) -> bool {
    match op {
        "==" => l == r,
        "!=" => l != r,
        ">" => l > r,
        "<" => l < r,
        ">=" => l >= r,
        "<=" => l <= r,
        _ => false,
    }
}

pub fn eval(ev: &Evaluator, b: &BinaryExpr, t: i64) -> Result<Value> {
    let op = b.op.to_string();
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs, t)?;
    let rhs = ev.eval(&b.rhs, t)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            if is_comparison(&op) {
                if !return_bool {
                    return Err(QueryError::BadData(
                        "comparisons between scalars must use BOOL modifier".into(),
                    ));
                }
                return Ok(Value::Scalar(if compare(&op, l, r) { 1.0 } else { 0.0 }));
            }
            apply(&op, l, r).map(Value::Scalar).ok_or_else(|| {
                QueryError::Execution(format!("operator {op} not allowed between scalars"))
            })
        }
        (Value::Vector(vs), Value::Scalar(s)) => Ok(Value::Vector(vector_scalar(
            &op,
            vs,
            s,
            false,
            return_bool,
        )?)),
        (Value::Scalar(s), Value::Vector(vs)) => {
            Ok(Value::Vector(vector_scalar(&op, vs, s, true, return_bool)?))
        }
        (Value::Vector(l), Value::Vector(r)) => {
            if is_set(&op) {
                Ok(Value::Vector(set_op(&op, l, r, b.modifier.as_ref())))
            } else {
                vector_vector(&op, l, r, b.modifier.as_ref(), return_bool).map(Value::Vector)
            }
        }
        (l, r) => Err(QueryError::Execution(format!(
            "binary expression must contain only scalar and instant vector types, got {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn vector_scalar(
    op: &str,
    vs: Vec<Sample>,
    s: f64,
    scalar_left: bool,
    return_bool: bool,
) -> Result<Vec<Sample>> {
    if is_set(op) {
        return Err(QueryError::BadData(format!(
            "set operator \"{op}\" not allowed in binary scalar expression"
        )));
    }
    let mut out = Vec::with_capacity(vs.len());
    for mut smp in vs {
        let (l, r) = if scalar_left { (s, smp.v) } else { (smp.v, s) };
        if is_comparison(op) {
            let keep = compare(op, l, r);
            if return_bool {
                smp.v = if keep { 1.0 } else { 0.0 };
                smp.metric.remove(NAME);
            } else if !keep {
                continue;
            } else if scalar_left {
                // The filtered sample keeps its own value.
                smp.v = r;
            }
            out.push(smp);
        } else {
            smp.v = apply(op, l, r).expect("arithmetic operator");
            smp.metric.remove(NAME);
            out.push(smp);
        }
    }
    Ok(out)
}

/// The labels two samples are matched on.
fn match_labels(m: &Metric, modifier: Option<&BinModifier>) -> Metric {
    let mut m = without_name(m);
    match modifier.and_then(|md| md.matching.as_ref()) {
        Some(LabelModifier::Include(on)) => m.retain(|k, _| on.labels.iter().any(|l| l == k)),
        Some(LabelModifier::Exclude(ign)) => m.retain(|k, _| !ign.labels.iter().any(|l| l == k)),
        None => {}
    }
    m
}

fn match_key(m: &Metric, modifier: Option<&BinModifier>) -> String {
    signature(&match_labels(m, modifier))
}

fn set_op(op: &str, l: Vec<Sample>, r: Vec<Sample>, modifier: Option<&BinModifier>) -> Vec<Sample> {
    let rkeys: HashSet<String> = r.iter().map(|s| match_key(&s.metric, modifier)).collect();
    match op {
        "and" => l
            .into_iter()
            .filter(|s| rkeys.contains(&match_key(&s.metric, modifier)))
            .collect(),
        "unless" => l
            .into_iter()
            .filter(|s| !rkeys.contains(&match_key(&s.metric, modifier)))
            .collect(),
        _ => {
            let lkeys: HashSet<String> = l.iter().map(|s| match_key(&s.metric, modifier)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|s| !lkeys.contains(&match_key(&s.metric, modifier))),
            );
            out
        }
    }
}

fn vector_vector(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    modifier: Option<&BinModifier>,
    return_bool: bool,
) -> Result<Vec<Sample>> {
    let card = modifier
        .map(|m| m.card.clone())
        .unwrap_or(VectorMatchCardinality::OneToOne);
    // The "one" side is indexed; group_right swaps the roles.
    let (many, one, swapped) = match &card {
        VectorMatchCardinality::OneToMany(_) => (rhs, lhs, true),
        _ => (lhs, rhs, false),
    };
    let mut one_by_key: HashMap<String, Sample> = HashMap::new();
    for s in one {
        let k = match_key(&s.metric, modifier);
        if one_by_key.insert(k, s).is_some() {
            let side = if swapped { "left" } else { "right" };
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group on the {side} hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
    }
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    // fill / fill_left / fill_right: a side with no match for a group takes
    // a sample of the fill value labelled with the matching labels alone.
    // Prometheus reads "left" as the many side and "right" as the one side,
    // so with group_right they name the operands the other way round.
    let fills = modifier.map(|m| &m.fill_values);
    let (many_fill, one_fill) = (fills.and_then(|f| f.lhs), fills.and_then(|f| f.rhs));
    let mut seen: HashSet<String> = HashSet::new();
    let mut out_sigs: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    let mut emit = |m: &Sample, o: &Sample| -> Result<()> {
        let (ls, rs) = if swapped { (o, m) } else { (m, o) };
        let value = if is_comparison(op) {
            match (compare(op, ls.v, rs.v), return_bool) {
                (keep, true) => f64::from(u8::from(keep)),
                (true, false) => ls.v,
                (false, false) => return Ok(()),
            }
        } else {
            apply(op, ls.v, rs.v).expect("arithmetic operator")
        };
        // Labels come from the "many" side, extras from the "one" side.
        let mut metric = result_metric(&m.metric, &o.metric, op, modifier, &card);
        if return_bool {
            metric.remove(NAME);
        }
        if !out_sigs.insert(signature(&metric)) {
            return Err(QueryError::Execution(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
            ));
        }
        out.push(Sample {
            metric,
            t: m.t,
            v: value,
        });
        Ok(())
    };
    let filled = |s: &Sample, v: f64| Sample {
        metric: match_labels(&s.metric, modifier),
        t: s.t,
        v,
    };
    let mut matched: HashSet<String> = HashSet::new();
    for m in &many {
        let k = match_key(&m.metric, modifier);
        let Some(o) = one_by_key.get(&k) else {
            if let Some(v) = one_fill {
                emit(m, &filled(m, v))?;
            }
            continue;
        };
        if one_to_one && !seen.insert(k.clone()) {
            return Err(QueryError::Execution(
                "found duplicate series for the match group on the left hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side".into(),
            ));
        }
        emit(m, o)?;
        matched.insert(k);
    }
    if let Some(v) = many_fill {
        for (k, o) in &one_by_key {
            if !matched.contains(k) {
                emit(&filled(o, v), o)?;
            }
        }
    }
    Ok(out)
}

/// Prometheus's resultMetric: `l` is the "many" side, `r` the "one".
fn result_metric(
    l: &Metric,
    r: &Metric,
    op: &str,
    modifier: Option<&BinModifier>,
    card: &VectorMatchCardinality,
) -> Metric {
    let mut m = l.clone();
    if !is_comparison(op) {
        m.remove(NAME);
    }
    if matches!(card, VectorMatchCardinality::OneToOne) {
        match modifier.and_then(|md| md.matching.as_ref()) {
            Some(LabelModifier::Include(on)) => m.retain(|k, _| on.labels.iter().any(|x| x == k)),
            Some(LabelModifier::Exclude(ign)) => {
                m.retain(|k, _| !ign.labels.iter().any(|x| x == k))
            }
            None => {}
        }
    }
    // group_x(labels): copy those labels from the "one" side (`r`).
    if let VectorMatchCardinality::ManyToOne(ls) | VectorMatchCardinality::OneToMany(ls) = card {
        for name in &ls.labels {
            match r.get(name) {
                Some(v) if !v.is_empty() => {
                    m.insert(name.clone(), v.clone());
                }
                _ => {
                    m.remove(name);
                }
            }
        }
    }
    m
}
