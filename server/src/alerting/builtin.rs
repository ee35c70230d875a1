//! Built-in alert rules: `server/rules/builtin.yml`, compiled into the
//! binary, on from the first start. Each one can be edited or disabled on
//! the Rules page; the change is stored (`storage::BuiltinOverride`) and
//! the rest keep following the shipped file, so an upgrade improves every
//! rule nobody changed. Each rule runs as its own one-rule group, keyed
//! `[builtin, file group, name, 0]`, so editing one keeps its alerts.
//! Pure: no I/O.

use super::rules::{self, Group};
use super::ui_rules::RuleForm;
use crate::storage::BuiltinOverride;

/// The shipped rules (also checked by promtool; see builtin_test.yml).
pub const FILE: &str = include_str!("../../rules/builtin.yml");

/// The source part of built-in rules' keys.
pub const SOURCE: &str = "builtin";

/// One shipped rule, as the editor's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Builtin {
    /// The file's group it belongs to, e.g. `dozor-hosts`.
    pub group: String,
    pub form: RuleForm,
}

/// A built-in rule as it runs: shipped or edited, enabled or not.
#[derive(Debug, Clone)]
pub struct Effective {
    pub builtin: Builtin,
    pub form: RuleForm,
    pub disabled: bool,
    /// Who changed it last (None: as shipped).
    pub changed_by: Option<String>,
    /// The stored edit does not compile any more (for example after an
    /// upgrade renamed a metric): the shipped rule runs instead.
    pub error: Option<String>,
}

impl Effective {
    pub fn edited(&self) -> bool {
        self.form != self.builtin.form
    }
}

/// The shipped rules in file order. The file is part of the binary and
/// tested, so a rule it cannot express as the editor's fields is a bug.
pub fn defaults() -> Vec<Builtin> {
    let v: serde_yaml::Value = serde_yaml::from_str(FILE).expect("builtin.yml is YAML");
    let text = |v: &serde_yaml::Value| v.as_str().unwrap_or_default().trim().to_string();
    let mut out = Vec::new();
    for g in v["groups"].as_sequence().expect("builtin.yml has groups") {
        for r in g["rules"].as_sequence().expect("each group has rules") {
            out.push(Builtin {
                group: text(&g["name"]),
                form: RuleForm {
                    name: text(&r["alert"]),
                    expr: text(&r["expr"]),
                    for_: text(&r["for"]),
                    keep_firing_for: text(&r["keep_firing_for"]),
                    severity: text(&r["labels"]["severity"]),
                    summary: text(&r["annotations"]["summary"]),
                    description: text(&r["annotations"]["description"]),
                    interval: text(&g["interval"]),
                    ..Default::default()
                },
            });
        }
    }
    out
}

/// The shipped rule called `name`.
pub fn find(name: &str) -> Option<Builtin> {
    defaults().into_iter().find(|b| b.form.name == name)
}

impl Builtin {
    /// Compiles `form` as this built-in runs it (its group, its key).
    pub fn compile(
        &self,
        form: &RuleForm,
        default_interval_ms: i64,
    ) -> Result<(String, Vec<Group>), String> {
        let yaml = form.to_yaml_in(&self.group)?;
        let groups =
            rules::parse_from(SOURCE, SOURCE, &yaml, default_interval_ms).map_err(|e| e.message)?;
        Ok((yaml, groups))
    }
}

/// Every built-in with the stored changes applied.
pub fn effective(overrides: &[BuiltinOverride], default_interval_ms: i64) -> Vec<Effective> {
    defaults()
        .into_iter()
        .map(|b| {
            let o = overrides.iter().find(|o| o.name == b.form.name);
            let mut e = Effective {
                form: b.form.clone(),
                disabled: o.is_some_and(|o| o.disabled),
                changed_by: o.map(|o| o.author.clone()),
                error: None,
                builtin: b,
            };
            if let Some(spec) = o.and_then(|o| o.spec.as_deref()) {
                match RuleForm::from_yaml(spec)
                    .ok_or_else(|| "not a rule file".to_string())
                    .and_then(|f| e.builtin.compile(&f, default_interval_ms).map(|_| f))
                {
                    Ok(f) => e.form = f,
                    Err(err) => e.error = Some(err),
                }
            }
            e
        })
        .collect()
}

/// The groups the engine runs: enabled built-ins, each its own group.
pub fn groups(list: &[Effective], default_interval_ms: i64) -> Vec<Group> {
    let mut out = Vec::new();
    for e in list.iter().filter(|e| !e.disabled) {
        match e.builtin.compile(&e.form, default_interval_ms) {
            Ok((_, g)) => out.extend(g),
            // Only an edit can fail (the shipped file is tested); it was
            // checked when saved, so this is an upgrade's doing.
            Err(err) => {
                tracing::error!(rule = %e.form.name, error = %err, "an edited built-in rule does not compile")
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::rules::Rule;

    /// The editor's fields say everything the file says: compiling the
    /// fields gives the rules parsed straight from the file.
    #[test]
    fn every_builtin_is_expressed_by_its_fields() {
        let from_file = rules::parse("builtin.yml", FILE, 30_000).unwrap();
        let direct: Vec<&Rule> = from_file.iter().flat_map(|g| &g.rules).collect();
        let list = defaults();
        assert_eq!(list.len(), direct.len());
        let mut names: Vec<&str> = list.iter().map(|b| b.form.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), list.len(), "built-in names are unique");
        for (b, d) in list.iter().zip(direct) {
            let (yaml, groups) = b.compile(&b.form, 30_000).unwrap();
            assert_eq!(RuleForm::from_yaml(&yaml).unwrap(), b.form);
            let (Rule::Alert(got), Rule::Alert(want)) = (&groups[0].rules[0], d) else {
                panic!("{}: built-ins are alerting rules", b.form.name);
            };
            assert_eq!(got.expr.trim(), want.expr.trim(), "{}", b.form.name);
            assert_eq!(got.labels, want.labels, "{}", b.form.name);
            assert_eq!(got.timing.for_ms, want.timing.for_ms, "{}", b.form.name);
            let ann = |r: &crate::alerting::rules::AlertRule| {
                r.annotations
                    .iter()
                    .map(|(k, v, _)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(ann(got), ann(want), "{}", b.form.name);
            assert_eq!(got.key, rules::rule_key(SOURCE, &b.group, &b.form.name, 0));
        }
    }

    #[test]
    fn overrides_disable_edit_and_fall_back() {
        let o = |name: &str, disabled, spec: Option<String>| BuiltinOverride {
            name: name.into(),
            disabled,
            spec,
            author: "ann".into(),
            updated_ms: 1,
        };
        let host_down = find("HostDown").unwrap();
        let mut edited = host_down.form.clone();
        edited.for_ = "3m".into();
        let spec = edited.to_yaml_in(&host_down.group).unwrap();
        let list = effective(
            &[
                o("HostDown", false, Some(spec)),
                o("ScrapeTargetDown", true, None),
                o(
                    "HostMemoryAlmostFull",
                    false,
                    Some("groups: nonsense".into()),
                ),
            ],
            30_000,
        );
        let get = |n: &str| list.iter().find(|e| e.form.name == n).unwrap();
        assert!(get("HostDown").edited() && get("HostDown").form.for_ == "3m");
        assert!(get("ScrapeTargetDown").disabled && !get("ScrapeTargetDown").edited());
        let broken = get("HostMemoryAlmostFull");
        assert!(
            broken.error.is_some() && !broken.edited(),
            "falls back to the shipped rule"
        );
        let running = groups(&list, 30_000);
        assert_eq!(running.len(), defaults().len() - 1);
        assert!(running
            .iter()
            .all(|g| g.rules[0].name() != "ScrapeTargetDown"));
    }
}
