//! Dashboards as code: one TOML file per dashboard (see `dashboards/`).
//! The built-ins are embedded; `--dashboards-dir` adds more. A bad file is
//! reported with its name, line and field, and skipped.

use crate::chart::{Kind, Unit};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    pub title: String,
    /// URL name; defaults to the file name without `.toml`.
    #[serde(default)]
    pub slug: String,
    /// Shown in navigation only when this metric has series.
    #[serde(default)]
    pub requires: Option<String>,
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(default)]
    pub rows: Vec<Row>,
    /// The `--dashboards-dir` file it came from (its name); None for a
    /// built-in.
    #[serde(skip)]
    pub file: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Used as `$name` in queries and `var-name` in the URL.
    pub name: String,
    /// The label whose values are offered.
    pub label: String,
    /// Series selector the values come from (all series when absent).
    #[serde(default)]
    pub selector: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub title: String,
    pub panels: Vec<Panel>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PanelType {
    #[default]
    Line,
    Area,
    Stacked,
    Stat,
    Table,
}

impl PanelType {
    pub fn chart_kind(self) -> Kind {
        match self {
            PanelType::Area => Kind::Area,
            PanelType::Stacked => Kind::Stacked,
            _ => Kind::Line,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PanelType::Line => "line",
            PanelType::Area => "area",
            PanelType::Stacked => "stacked",
            PanelType::Stat => "stat",
            PanelType::Table => "table",
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    pub title: String,
    #[serde(rename = "type", default)]
    pub kind: PanelType,
    #[serde(default)]
    pub unit: Unit,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub thresholds: Vec<f64>,
    /// Shown only when this metric has series (e.g. PSI on older kernels).
    #[serde(default)]
    pub requires: Option<String>,
    pub queries: Vec<Query>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub expr: String,
    /// `{{label}}` placeholders; empty means the label set.
    #[serde(default)]
    pub legend: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{file}: {message}")]
pub struct DashboardError {
    pub file: String,
    pub message: String,
}

/// Parses one file's text. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Dashboard, DashboardError> {
    let err = |message: String| DashboardError {
        file: file.to_string(),
        message,
    };
    let mut d: Dashboard = toml::from_str(text).map_err(|e| err(e.to_string().trim().into()))?;
    if d.slug.is_empty() {
        d.slug = file.trim_end_matches(".toml").to_string();
    }
    let slug_ok = d
        .slug
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if d.slug.is_empty() || !slug_ok {
        return Err(err(format!(
            "slug {:?} must be letters, digits, '-' or '_'",
            d.slug
        )));
    }
    for (r, row) in d.rows.iter().enumerate() {
        for (p, panel) in row.panels.iter().enumerate() {
            if panel.queries.is_empty() {
                return Err(err(format!(
                    "rows[{r}].panels[{p}] ({:?}): queries is empty",
                    panel.title
                )));
            }
        }
    }
    Ok(d)
}

pub const BUILTIN: [(&str, &str); 4] = [
    ("host.toml", include_str!("../../dashboards/host.toml")),
    (
        "container.toml",
        include_str!("../../dashboards/container.toml"),
    ),
    ("dozor.toml", include_str!("../../dashboards/dozor.toml")),
    (
        "service.toml",
        include_str!("../../dashboards/service.toml"),
    ),
];

/// The built-ins, then every `*.toml` in `dir` (sorted by name). Files
/// that fail to parse come back as errors beside the good ones; a user
/// file with a built-in's slug replaces it.
pub fn load_all(dir: Option<&Path>) -> (Vec<Dashboard>, Vec<DashboardError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in BUILTIN {
        match parse(file, text) {
            Ok(d) => out.push(d),
            Err(e) => errors.push(e),
        }
    }
    let Some(dir) = dir else {
        return (out, errors);
    };
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            errors.push(DashboardError {
                file: dir.display().to_string(),
                message: e.to_string(),
            });
            return (out, errors);
        }
    };
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| DashboardError {
                file: path.display().to_string(),
                message: e.to_string(),
            })
            .and_then(|t| {
                parse(&name, &t).map_err(|mut e| {
                    e.file = path.display().to_string();
                    e
                })
            });
        match parsed {
            Ok(mut d) => {
                d.file = Some(name);
                out.retain(|o| o.slug != d.slug);
                out.push(d);
            }
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}

/// Quotes a value for use inside a PromQL double-quoted string, so a
/// label value cannot end the string and inject query text.
pub fn promql_escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Replaces `$__rate_interval`, `$__interval` and `$name` variables.
/// Longer names go first so `$host` does not eat `$hostname`.
pub fn substitute(expr: &str, vars: &[(String, String)], step_ms: i64, scrape_ms: i64) -> String {
    let rate = (step_ms + scrape_ms).max(4 * scrape_ms);
    let mut s = expr
        .replace("$__rate_interval", &format!("{}ms", rate))
        .replace("$__interval", &format!("{}ms", step_ms.max(1)));
    let mut sorted: Vec<&(String, String)> = vars.iter().collect();
    sorted.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in sorted {
        s = s.replace(&format!("${k}"), &promql_escape(v));
    }
    s
}

/// `{{label}}` placeholders filled from a series' labels; without a
/// template, `name{a="1", …}` like Prometheus shows series.
pub fn legend(template: &str, labels: &crate::source::Labels) -> String {
    if template.is_empty() {
        let name = labels.get("__name__").cloned().unwrap_or_default();
        let rest: Vec<String> = labels
            .iter()
            .filter(|(k, _)| k.as_str() != "__name__")
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        return if rest.is_empty() {
            if name.is_empty() {
                "value".into()
            } else {
                name
            }
        } else {
            format!("{name}{{{}}}", rest.join(", "))
        };
    }
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        match rest[i + 2..].find("}}") {
            Some(j) => {
                let key = rest[i + 2..i + 2 + j].trim();
                out.push_str(labels.get(key).map(String::as_str).unwrap_or(""));
                rest = &rest[i + 2 + j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        let (ds, errs) = load_all(None);
        assert!(errs.is_empty(), "{errs:?}");
        let slugs: Vec<&str> = ds.iter().map(|d| d.slug.as_str()).collect();
        assert_eq!(slugs, ["host", "containers", "dozor", "services"]);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = parse("mine.toml", "title = \"x\"\n[[rows]]\ntitle = \"r\"\n[[rows.panels]]\ntitle = \"p\"\ntpye = \"line\"\nqueries = []\n")
            .unwrap_err();
        assert_eq!(e.file, "mine.toml");
        assert!(e.message.contains("line 6"), "{}", e.message);
        assert!(e.message.contains("unknown field `tpye`"), "{}", e.message);
        let e = parse("bad.toml", "title = \"x\"\n[[rows]]\ntitle = \"r\"\n[[rows.panels]]\ntitle = \"p\"\nunit = \"furlongs\"\nqueries = [{expr = \"up\"}]\n")
            .unwrap_err();
        assert!(e.message.contains("furlongs"), "{}", e.message);
    }

    #[test]
    fn variables_are_escaped_into_promql() {
        let vars = vec![("host".to_string(), "a\"} or vector(1) #".to_string())];
        assert_eq!(
            substitute(
                "up{host=\"$host\"}[$__rate_interval]",
                &vars,
                15_000,
                15_000
            ),
            "up{host=\"a\\\"} or vector(1) #\"}[60000ms]"
        );
    }

    #[test]
    fn legends() {
        let labels: crate::source::Labels = [("__name__", "x"), ("device", "eth0"), ("host", "a")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(legend("{{device}} rx", &labels), "eth0 rx");
        assert_eq!(legend("", &labels), "x{device=\"eth0\", host=\"a\"}");
        assert_eq!(legend("{{missing}}!", &labels), "!");
    }
}
