//! `dozor-server rules test FILE…`: promtool-style rule unit tests.
//! Input series in the `a+bxN` notation are written into a throwaway
//! SQLite store at time 0, the rule groups are evaluated step by step
//! through the real engine and state machine, and the firing alerts and
//! PromQL results are compared with the expected ones.

use super::engine::Alerting;
use super::rules::{self, Rule};
use super::state::{Labels, State};
use super::AlertingConfig;
use crate::clock::Clock;
use crate::promql::{self, value::Value};
use crate::storage::{self, OpenOptions};
use dozor_common::{Sample, SeriesBatch};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval: Option<String>,
    tests: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    interval: Option<String>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    eval_time: String,
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    eval_time: String,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    labels: Option<String>,
    value: f64,
}

fn ms(d: &str) -> anyhow::Result<i64> {
    Ok(dozor_common::parse_duration(d)?.as_millis() as i64)
}

/// Expands promtool's series notation: `1+2x3` → 1 3 5 7, `5x2` → 5 5 5,
/// `_` → no sample, `_x2` → two gaps, `stale` → a staleness marker.
pub fn expand(values: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for tok in values.split_whitespace() {
        if tok == "_" {
            out.push(None);
            continue;
        }
        if tok == "stale" {
            out.push(Some(promql::value::stale_nan()));
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad token {tok:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        let (start, step, times) = match tok.split_once('x') {
            None => (tok, "0", "0"),
            Some((head, n)) => {
                // `a+b`, `a-b` (sign after the first character) or `a`.
                let cut = head[1..].find(['+', '-']).map(|i| i + 1);
                match cut {
                    Some(i) => (&head[..i], &head[i..], n),
                    None => (head, "0", n),
                }
            }
        };
        let bad = || format!("bad token {tok:?}");
        let a: f64 = start.parse().map_err(|_| bad())?;
        let b: f64 = step.trim_start_matches('+').parse().map_err(|_| bad())?;
        let n: usize = times.parse().map_err(|_| bad())?;
        out.extend((0..=n).map(|k| Some(a + b * k as f64)));
    }
    Ok(out)
}

fn selector_labels(text: &str) -> anyhow::Result<Labels> {
    use promql_parser::parser::Expr;
    let Expr::VectorSelector(vs) =
        crate::promql::parse_expr(text).map_err(|e| anyhow::anyhow!("{text}: {e}"))?
    else {
        anyhow::bail!("{text}: not a series");
    };
    let mut l: Labels = vs
        .matchers
        .matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    if let Some(n) = vs.name {
        l.insert("__name__".into(), n);
    }
    Ok(l)
}

/// Runs every test in `file`; returns the failures (empty: all passed).
pub async fn run_file(file: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(file)?;
    let spec: TestFile = serde_yaml::from_str(&text)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let eval_every = ms(spec.evaluation_interval.as_deref().unwrap_or("1m"))?;
    let mut groups = Vec::new();
    for f in &spec.rule_files {
        let p = base.join(f);
        let t = std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        groups.extend(rules::parse(&p.display().to_string(), &t, eval_every)?);
    }
    let mut failures = Vec::new();
    for (n, tg) in spec.tests.iter().enumerate() {
        let name = tg.name.clone().unwrap_or_else(|| format!("test {n}"));
        failures.extend(
            run_group(tg, &groups, eval_every)
                .await?
                .into_iter()
                .map(|f| format!("{name}: {f}")),
        );
    }
    Ok(failures)
}

async fn run_group(
    tg: &TestGroup,
    groups: &[rules::Group],
    eval_every: i64,
) -> anyhow::Result<Vec<String>> {
    let dir = tempfile::tempdir()?;
    let store = storage::open(
        &dir.path().join("t.db").display().to_string(),
        &OpenOptions::default(),
    )
    .await?;
    let interval = ms(tg.interval.as_deref().unwrap_or("1m"))?;
    let mut batches = Vec::new();
    for s in &tg.input_series {
        let mut labels = selector_labels(&s.series)?;
        let name = labels.remove("__name__").unwrap_or_default();
        let samples: Vec<Sample> = expand(&s.values)
            .map_err(|e| anyhow::anyhow!("{}: {e}", s.series))?
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| Sample::new(i as i64 * interval, v)))
            .collect();
        batches.push(SeriesBatch::new(
            name,
            labels.into_iter().collect(),
            samples,
        ));
    }
    store.append(&batches, 0).await?;
    let engine = crate::storage::engine(&store, promql::Limits::default());
    let mut failures = Vec::new();
    for t in &tg.promql_expr_test {
        let at = ms(&t.eval_time)?;
        let got: Vec<(Labels, f64)> = match engine.instant(&t.expr, at).await {
            Ok(Value::Vector(v)) => v.into_iter().map(|s| (s.metric.into_map(), s.v)).collect(),
            Ok(Value::Scalar(v)) => vec![(Labels::new(), v)],
            Ok(other) => {
                failures.push(format!(
                    "{} gives a {}, not a vector",
                    t.expr,
                    other.type_name()
                ));
                continue;
            }
            Err(e) => {
                failures.push(format!("{} at {}: {e}", t.expr, t.eval_time));
                continue;
            }
        };
        let mut want = Vec::new();
        for s in &t.exp_samples {
            let l = match &s.labels {
                Some(l) => selector_labels(l)?,
                None => Labels::new(),
            };
            want.push((l, s.value));
        }
        let key = |v: &mut Vec<(Labels, f64)>| v.sort_by(|a, b| a.0.cmp(&b.0));
        let (mut got, mut want) = (got, want);
        key(&mut got);
        key(&mut want);
        let same = got.len() == want.len()
            && got.iter().zip(&want).all(|(g, w)| {
                g.0 == w.0 && (g.1 == w.1 || (g.1 - w.1).abs() <= 1e-9 * w.1.abs().max(1.0))
            });
        if !same {
            failures.push(format!(
                "{} at {}: expected {want:?}, got {got:?}",
                t.expr, t.eval_time
            ));
        }
    }
    if tg.alert_rule_test.is_empty() {
        return Ok(failures);
    }
    let last = tg
        .alert_rule_test
        .iter()
        .map(|t| ms(&t.eval_time))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let until = last.iter().copied().max().unwrap_or(0);
    let clock = Clock::manual(0);
    let a = Alerting::load(
        AlertingConfig::defaults(),
        groups.to_vec(),
        engine,
        store,
        clock,
    )
    .await?;
    let mut t = 0;
    while t <= until {
        for g in &a.groups {
            a.eval_group(g, t).await;
        }
        for at in tg
            .alert_rule_test
            .iter()
            .filter(|x| ms(&x.eval_time).ok() == Some(t))
        {
            failures.extend(check_alerts(&a, at).await);
        }
        t += eval_every;
    }
    Ok(failures)
}

async fn check_alerts(a: &Alerting, t: &AlertTest) -> Vec<String> {
    let snapshot = a.snapshot().await;
    let mut got: Vec<ExpAlert> = Vec::new();
    for g in &a.groups {
        for r in &g.rules {
            let Rule::Alert(def) = r else { continue };
            if def.name != t.alertname {
                continue;
            }
            for (labels, al) in snapshot.get(&def.key).into_iter().flatten() {
                if al.state != State::Firing {
                    continue;
                }
                got.push(ExpAlert {
                    exp_labels: labels
                        .iter()
                        .filter(|(k, _)| *k != "alertname")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    exp_annotations: def
                        .annotations
                        .iter()
                        .map(|(k, _, tpl)| (k.clone(), tpl.render(labels, al.value)))
                        .collect(),
                });
            }
        }
    }
    let mut want: Vec<&ExpAlert> = t.exp_alerts.iter().collect();
    let order = |x: &&ExpAlert, y: &&ExpAlert| x.exp_labels.cmp(&y.exp_labels);
    want.sort_by(order);
    let mut got_refs: Vec<&ExpAlert> = got.iter().collect();
    got_refs.sort_by(order);
    if want.len() != got_refs.len()
        || want.iter().zip(&got_refs).any(|(w, g)| {
            let mut wl = w.exp_labels.clone();
            wl.remove("alertname");
            wl != g.exp_labels
                || (!w.exp_annotations.is_empty() && w.exp_annotations != g.exp_annotations)
        })
    {
        return vec![format!(
            "alert {} at {}: expected {want:?}, got {got_refs:?}",
            t.alertname, t.eval_time
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expands_promtool_series_notation() {
        let v = |s| expand(s).unwrap();
        assert_eq!(v("1+2x3"), [Some(1.0), Some(3.0), Some(5.0), Some(7.0)]);
        assert_eq!(
            v("10-1x2 _ 4"),
            [Some(10.0), Some(9.0), Some(8.0), None, Some(4.0)]
        );
        assert_eq!(v("5x2"), [Some(5.0); 3]);
        assert_eq!(v("_x2 -3"), [None, None, Some(-3.0)]);
        assert!(expand("1+ax2").is_err());
        assert!(v("stale")[0].unwrap().is_nan());
    }
}
