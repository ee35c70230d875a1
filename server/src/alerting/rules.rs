//! Rules: Prometheus rule files (`groups: - name, interval, rules: [alert |
//! record, expr, for, keep_firing_for, labels, annotations]`) plus dozor's
//! hysteresis fields, `recovery` (an expression) or `recovery_threshold`
//! (a number, for `A > N`-shaped expressions). Everything is checked when
//! loaded: PromQL parses, names are valid, templates compile.

use super::policy::{Policy, PolicySpec};
pub use super::rule_key::{parse_key, rule_key, rule_name, ui_source};
use super::state::{Labels, Timing};
use super::template::Template;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("{file}: group {group:?}, rule {rule:?}: {message}")]
pub struct RuleError {
    pub file: String,
    pub group: String,
    pub rule: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    groups: Vec<GroupSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    name: String,
    interval: Option<String>,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    alert: Option<String>,
    record: Option<String>,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    keep_firing_for: Option<String>,
    recovery: Option<String>,
    recovery_threshold: Option<f64>,
    /// While firing, mute other rules' alerts that share these labels'
    /// values (e.g. `[host]` on "host down").
    #[serde(default)]
    inhibits: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    // Notification policy (see policy.rs).
    group_by: Option<Vec<String>>,
    group_wait: Option<String>,
    group_interval: Option<String>,
    repeat_interval: Option<String>,
    #[serde(default)]
    channels: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AlertRule {
    /// Identity of the rule's alert state (see `rule_key`).
    pub key: String,
    pub name: String,
    pub expr: String,
    pub timing: Timing,
    /// Resolve only when this returns the alert's series (hysteresis).
    pub recovery: Option<String>,
    /// Label names: while this rule fires, other rules' alerts with the
    /// same values for all of them are not notified.
    pub inhibits: Vec<String>,
    pub labels: Labels,
    pub annotations: Vec<(String, String, Template)>,
    pub policy: Policy,
}

impl AlertRule {
    pub fn severity(&self) -> &str {
        self.labels
            .get("severity")
            .map(String::as_str)
            .unwrap_or("warning")
    }
}

#[derive(Debug, Clone)]
pub struct RecordingRule {
    /// Identity of the rule's evaluation health (see `rule_key`).
    pub key: String,
    pub name: String,
    pub expr: String,
    pub labels: Labels,
}

#[derive(Debug, Clone)]
pub enum Rule {
    Alert(AlertRule),
    Record(RecordingRule),
}

impl Rule {
    pub fn name(&self) -> &str {
        match self {
            Rule::Alert(a) => &a.name,
            Rule::Record(r) => &r.name,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Rule::Alert(a) => &a.key,
            Rule::Record(r) => &r.key,
        }
    }

    fn set_key(&mut self, key: String) {
        match self {
            Rule::Alert(a) => a.key = key,
            Rule::Record(r) => r.key = key,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub interval_ms: i64,
    pub rules: Vec<Rule>,
}

fn metric_name_ok(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn label_name_ok(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn ms(s: Option<&str>) -> Result<i64, String> {
    match s {
        None => Ok(0),
        Some(d) => dozor_common::parse_duration(d)
            .map(|d| d.as_millis() as i64)
            .map_err(|e| e.to_string()),
    }
}

/// `A > N` with recovery threshold T becomes `A <= T`: the inverse
/// comparison, so the alert resolves only once the value is back past T.
pub fn recovery_from_threshold(expr: &str, threshold: f64) -> Result<String, String> {
    use promql_parser::parser::Expr;
    let parsed = crate::promql::parse_expr(expr).map_err(|e| e.to_string())?;
    let Expr::Binary(b) = parsed else {
        return Err("recovery_threshold needs an expression like `A > N`".into());
    };
    let Expr::NumberLiteral(_) = *b.rhs else {
        return Err("recovery_threshold needs a number on the right of the comparison".into());
    };
    let inverse = match b.op.to_string().as_str() {
        ">" => "<=",
        ">=" => "<",
        "<" => ">=",
        "<=" => ">",
        other => return Err(format!("recovery_threshold cannot invert `{other}`")),
    };
    Ok(format!("{} {inverse} {threshold}", b.lhs))
}

fn compile(spec: RuleSpec) -> Result<Rule, String> {
    crate::promql::parse_expr(&spec.expr).map_err(|e| format!("expr: {e}"))?;
    for k in spec.labels.keys() {
        if !label_name_ok(k) {
            return Err(format!("invalid label name {k:?}"));
        }
    }
    let policy = PolicySpec {
        group_by: spec.group_by,
        group_wait: spec.group_wait,
        group_interval: spec.group_interval,
        repeat_interval: spec.repeat_interval,
        channels: spec.channels,
    };
    let has_policy = policy.group_by.is_some()
        || policy.group_wait.is_some()
        || policy.group_interval.is_some()
        || policy.repeat_interval.is_some()
        || !policy.channels.is_empty();
    match (spec.alert, spec.record) {
        (Some(name), None) => {
            let policy = policy.compile()?;
            let recovery = match (spec.recovery, spec.recovery_threshold) {
                (Some(_), Some(_)) => {
                    return Err("use recovery or recovery_threshold, not both".into())
                }
                (Some(r), None) => {
                    crate::promql::parse_expr(&r).map_err(|e| format!("recovery: {e}"))?;
                    Some(r)
                }
                (None, Some(t)) => Some(recovery_from_threshold(&spec.expr, t)?),
                (None, None) => None,
            };
            let mut annotations = Vec::new();
            for (k, v) in spec.annotations {
                let t = Template::parse(&v).map_err(|e| format!("annotation {k}: {e}"))?;
                annotations.push((k, v, t));
            }
            let mut labels = spec.labels;
            labels.insert("alertname".into(), name.clone());
            Ok(Rule::Alert(AlertRule {
                key: String::new(),
                timing: Timing {
                    for_ms: ms(spec.for_.as_deref())?,
                    keep_firing_for_ms: ms(spec.keep_firing_for.as_deref())?,
                    has_recovery: recovery.is_some(),
                },
                name,
                expr: spec.expr,
                recovery,
                inhibits: spec.inhibits,
                labels,
                annotations,
                policy,
            }))
        }
        (None, Some(name)) => {
            if !metric_name_ok(&name) {
                return Err(format!("invalid metric name {name:?}"));
            }
            if spec.for_.is_some()
                || !spec.annotations.is_empty()
                || spec.recovery.is_some()
                || !spec.inhibits.is_empty()
                || has_policy
            {
                return Err("recording rules take only record, expr and labels".into());
            }
            Ok(Rule::Record(RecordingRule {
                key: String::new(),
                name,
                expr: spec.expr,
                labels: spec.labels,
            }))
        }
        _ => Err("a rule has exactly one of alert or record".into()),
    }
}

/// Parses one rule file's text; `file` names it in errors and is the
/// source in its rules' keys.
pub fn parse(file: &str, text: &str, default_interval_ms: i64) -> Result<Vec<Group>, RuleError> {
    parse_from(file, file, text, default_interval_ms)
}

/// Parses rule text whose keys name `source`; `file` names it in errors.
pub fn parse_from(
    file: &str,
    source: &str,
    text: &str,
    default_interval_ms: i64,
) -> Result<Vec<Group>, RuleError> {
    let err = |group: &str, rule: &str, message: String| RuleError {
        file: file.to_string(),
        group: group.to_string(),
        rule: rule.to_string(),
        message,
    };
    let spec: FileSpec = serde_yaml::from_str(text).map_err(|e| err("", "", e.to_string()))?;
    let mut groups = Vec::new();
    for g in spec.groups {
        let interval_ms = match g.interval.as_deref() {
            None => default_interval_ms,
            Some(i) => ms(Some(i)).map_err(|e| err(&g.name, "", e))?,
        };
        if interval_ms < 1000 {
            return Err(err(&g.name, "", "interval must be at least 1s".into()));
        }
        let mut rules = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in g.rules {
            let name = r.alert.clone().or(r.record.clone()).unwrap_or_default();
            let mut rule = compile(r).map_err(|m| err(&g.name, &name, m))?;
            let position = seen.entry(name.clone()).or_default();
            rule.set_key(rule_key(source, &g.name, &name, *position));
            *position += 1;
            rules.push(rule);
        }
        groups.push(Group {
            name: g.name,
            interval_ms,
            rules,
        });
    }
    Ok(groups)
}

/// Every `*.yml`/`*.yaml` in `dir`, in name order.
pub fn load_dir(dir: &Path, default_interval_ms: i64) -> Result<Vec<Group>, RuleError> {
    let io = |m: String| RuleError {
        file: dir.display().to_string(),
        group: String::new(),
        rule: String::new(),
        message: m,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    let mut groups = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| io(e.to_string()))?;
        // Keys name the file, not its directory, so moving the rules
        // directory keeps the alerts' states.
        let source = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        groups.extend(parse_from(
            &f.display().to_string(),
            &source,
            &text,
            default_interval_ms,
        )?);
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
groups:
  - name: host
    interval: 30s
    rules:
      - alert: HighCpu
        expr: avg by (host) (cpu_usage_percent) > 80
        for: 5m
        keep_firing_for: 1m
        recovery_threshold: 70
        labels: {severity: critical}
        annotations:
          summary: "CPU on {{ $labels.host }} is {{ $value | humanize }}%"
      - record: host:cpu:avg
        expr: avg by (host) (cpu_usage_percent)
"#;

    #[test]
    fn loads_prometheus_rule_files() {
        let g = parse("t.yml", FILE, 60_000).unwrap();
        assert_eq!((g[0].name.as_str(), g[0].interval_ms), ("host", 30_000));
        let Rule::Alert(a) = &g[0].rules[0] else {
            panic!()
        };
        assert_eq!(a.timing.for_ms, 300_000);
        assert_eq!(a.timing.keep_firing_for_ms, 60_000);
        assert_eq!(
            a.recovery.as_deref(),
            Some("avg by (host) (cpu_usage_percent) <= 70")
        );
        assert_eq!(a.severity(), "critical");
        assert_eq!(a.labels["alertname"], "HighCpu");
        let l: Labels = [("host".to_string(), "<x>".to_string())]
            .into_iter()
            .collect();
        assert_eq!(a.annotations[0].2.render(&l, 93.0), "CPU on <x> is 93%");
        assert!(matches!(&g[0].rules[1], Rule::Record(r) if r.name == "host:cpu:avg"));
    }

    #[test]
    fn errors_name_the_file_group_and_rule() {
        let bad = FILE.replace("> 80", "> ");
        let e = parse("t.yml", &bad, 60_000).unwrap_err();
        assert_eq!((e.group.as_str(), e.rule.as_str()), ("host", "HighCpu"));
        assert!(
            e.to_string()
                .starts_with("t.yml: group \"host\", rule \"HighCpu\": expr:"),
            "{e}"
        );
        let e = parse("t.yml", &FILE.replace("$value", "env"), 60_000).unwrap_err();
        assert!(e.message.contains("annotation summary"), "{e}");
        let e = parse("t.yml", "groups: [{name: g, rules: [{expr: up}]}]", 60_000).unwrap_err();
        assert!(e.message.contains("exactly one of alert or record"));
        let e = parse("t.yml", "groups: [{name: g, bogus: 1}]", 60_000).unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
        assert!(recovery_from_threshold("rate(x[5m])", 1.0).is_err());
        assert_eq!(recovery_from_threshold("x < 10", 20.0).unwrap(), "x >= 20");
    }
}
