//! Rules made in the UI: the form's fields, the presets that fill them
//! without PromQL, and the YAML they are stored as (a Prometheus rule file
//! with one group, so they compile through exactly the same path as rule
//! files, and can be copied into one). Pure: no I/O.

use super::rules::{self, Group};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The editor's fields, as text (the form posts strings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleForm {
    pub name: String,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: String,
    pub keep_firing_for: String,
    pub recovery_threshold: String,
    pub severity: String,
    pub summary: String,
    pub description: String,
    pub interval: String,
    /// Comma-separated label names.
    pub group_by: String,
    /// Comma-separated channel names.
    pub channels: String,
    /// Comma-separated label names (inhibition).
    pub inhibits: String,
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Serialize)]
struct FileOut<'a> {
    groups: [GroupOut<'a>; 1],
}

#[derive(Serialize)]
struct GroupOut<'a> {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<&'a str>,
    rules: [RuleOut<'a>; 1],
}

#[derive(Serialize)]
struct RuleOut<'a> {
    alert: &'a str,
    expr: &'a str,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_firing_for: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_threshold: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    inhibits: Vec<String>,
    labels: BTreeMap<&'a str, &'a str>,
    annotations: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_by: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    channels: Vec<String>,
}

fn opt(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

impl RuleForm {
    /// The rule file text; errors name the field at fault.
    pub fn to_yaml(&self) -> Result<String, String> {
        self.to_yaml_in(&format!("ui:{}", self.name.trim()))
    }

    /// The rule file text with the rule in the group `group`.
    pub fn to_yaml_in(&self, group: &str) -> Result<String, String> {
        let name = self.name.trim();
        let ok_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.len() <= 100
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_name {
            return Err(
                "name: letters, digits and _, starting with a letter (e.g. HighCpu)".into(),
            );
        }
        if self.expr.trim().is_empty() {
            return Err("expr: a PromQL expression is needed".into());
        }
        let recovery_threshold = match opt(&self.recovery_threshold) {
            None => None,
            Some(t) => Some(
                t.parse::<f64>()
                    .map_err(|_| format!("recovery threshold: {t:?} is not a number"))?,
            ),
        };
        let mut labels = BTreeMap::new();
        labels.insert("severity", opt(&self.severity).unwrap_or("warning"));
        let mut annotations = BTreeMap::new();
        if let Some(s) = opt(&self.summary) {
            annotations.insert("summary", s);
        }
        if let Some(d) = opt(&self.description) {
            annotations.insert("description", d);
        }
        let group_by = list(&self.group_by);
        let file = FileOut {
            groups: [GroupOut {
                name: group.to_string(),
                interval: opt(&self.interval),
                rules: [RuleOut {
                    alert: name,
                    expr: self.expr.trim(),
                    for_: opt(&self.for_),
                    keep_firing_for: opt(&self.keep_firing_for),
                    recovery_threshold,
                    inhibits: list(&self.inhibits),
                    labels,
                    annotations,
                    group_by: (!group_by.is_empty()).then_some(group_by),
                    channels: list(&self.channels),
                }],
            }],
        };
        serde_yaml::to_string(&file).map_err(|e| e.to_string())
    }

    /// Compiles the form as dozor will run it.
    pub fn compile(&self, default_interval_ms: i64) -> Result<(String, Vec<Group>), String> {
        let yaml = self.to_yaml()?;
        let groups = rules::parse("rule", &yaml, default_interval_ms).map_err(|e| e.message)?;
        Ok((yaml, groups))
    }

    /// Back from stored YAML, for editing.
    pub fn from_yaml(yaml: &str) -> Option<Self> {
        let v: serde_yaml::Value = serde_yaml::from_str(yaml).ok()?;
        let g = &v["groups"][0];
        let r = &g["rules"][0];
        let s = |v: &serde_yaml::Value| match v {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Number(n) => n.as_f64().map(plain).unwrap_or_default(),
            _ => String::new(),
        };
        let l = |v: &serde_yaml::Value| {
            v.as_sequence()
                .map(|xs| xs.iter().map(s).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        };
        Some(Self {
            name: s(&r["alert"]),
            expr: s(&r["expr"]),
            for_: s(&r["for"]),
            keep_firing_for: s(&r["keep_firing_for"]),
            recovery_threshold: s(&r["recovery_threshold"]),
            severity: s(&r["labels"]["severity"]),
            summary: s(&r["annotations"]["summary"]),
            description: s(&r["annotations"]["description"]),
            interval: s(&g["interval"]),
            group_by: l(&r["group_by"]),
            channels: l(&r["channels"]),
            inhibits: l(&r["inhibits"]),
        })
    }
}

pub use super::presets::{preset, PRESETS};

/// Numbers as a person writes them: 90, not 90.0.
pub(crate) fn plain(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_compiles_and_round_trips() {
        for (key, _, _, _, default) in PRESETS {
            let f = preset(key, default).unwrap();
            let (yaml, groups) = f.compile(30_000).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(groups[0].name, format!("ui:{}", f.name));
            assert_eq!(RuleForm::from_yaml(&yaml).unwrap(), f, "{key}");
        }
        let cpu = preset("cpu", "85").unwrap();
        assert!(cpu.expr.ends_with("> 85") && cpu.recovery_threshold == "75");
        assert!(preset("cpu", "-1").is_err() && preset("nope", "1").is_err());
    }

    #[test]
    fn form_errors_name_the_field() {
        let mut f = preset("memory", "90").unwrap();
        f.name = "bad name".into();
        assert!(f.to_yaml().unwrap_err().starts_with("name:"));
        f.name = "Ok".into();
        f.recovery_threshold = "lots".into();
        assert!(f.to_yaml().unwrap_err().starts_with("recovery threshold:"));
        f.recovery_threshold.clear();
        f.expr = "rate(x[5m]".into();
        assert!(f.compile(30_000).unwrap_err().starts_with("expr:"));
        f.expr = "x > 1".into();
        f.summary = "{{ env }}".into();
        assert!(f
            .compile(30_000)
            .unwrap_err()
            .contains("annotation summary"));
        // Quotes and newlines survive YAML.
        f.summary = "a \"quoted\": value\nsecond line".into();
        let (yaml, _) = f.compile(30_000).unwrap();
        assert_eq!(RuleForm::from_yaml(&yaml).unwrap().summary, f.summary);
    }
}
