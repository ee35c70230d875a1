//! Scrape targets: from the collector's TOML file (`--scrape-config`) or
//! `--scrape JOB=URL`, checked when loaded, with Prometheus's defaults
//! where it has them.

use dozor_common::Labels;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// Prometheus text or OpenMetrics, by the response's Content-Type.
    Prometheus,
    Json,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub job: String,
    pub url: String,
    /// `host:port` of the URL, Prometheus's `instance`.
    pub instance: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub format: BodyFormat,
    /// Added to every series; `job` and `instance` are among them.
    pub labels: Labels,
    /// Let the target's own labels win over `job`, `instance` and the
    /// static labels (off, as in Prometheus). `host` is never the target's.
    pub honor_labels: bool,
    /// More samples than this fail the scrape.
    pub sample_limit: usize,
    /// A larger body fails the scrape (and is not read further).
    pub body_limit: usize,
    pub json_prefix: String,
    pub json_label_keys: Vec<String>,
}

impl Target {
    /// Identifies the target in status reports.
    pub fn key(&self) -> String {
        format!("{}|{}", self.job, self.url)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default, rename = "target")]
    targets: Vec<TargetSpec>,
}

/// One `[[target]]` of the scrape file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub job: String,
    pub url: String,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    /// "prometheus" (default) or "json".
    pub format: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub honor_labels: bool,
    pub sample_limit: Option<usize>,
    pub body_limit: Option<usize>,
    pub json_prefix: Option<String>,
    #[serde(default)]
    pub json_label_keys: Vec<String>,
}

pub const DEFAULT_SAMPLE_LIMIT: usize = 50_000;
pub const DEFAULT_BODY_LIMIT: usize = 16 << 20;

fn label_name_ok(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

impl TargetSpec {
    pub fn compile(self, default_interval: Duration) -> Result<Target, String> {
        let duration = |what: &str, d: Option<&str>, default: Duration| match d {
            None => Ok(default),
            Some(d) => dozor_common::parse_duration(d).map_err(|e| format!("{what}: {e}")),
        };
        if self.job.is_empty() {
            return Err("job: a target needs a job name".into());
        }
        let rest = self
            .url
            .strip_prefix("http://")
            .or_else(|| self.url.strip_prefix("https://"))
            .ok_or_else(|| format!("url: {:?} must start with http:// or https://", self.url))?;
        let instance = rest.split(['/', '?']).next().unwrap_or("").to_string();
        if instance.is_empty() {
            return Err(format!("url: {:?} has no host", self.url));
        }
        let interval = duration("interval", self.interval.as_deref(), default_interval)?;
        if interval < Duration::from_secs(1) {
            return Err("interval: at least 1s".into());
        }
        let timeout = duration(
            "timeout",
            self.timeout.as_deref(),
            interval.min(Duration::from_secs(10)),
        )?;
        if timeout > interval || timeout.is_zero() {
            return Err("timeout: above zero and at most the interval".into());
        }
        let format = match self.format.as_deref() {
            None | Some("prometheus") => BodyFormat::Prometheus,
            Some("json") => BodyFormat::Json,
            Some(o) => return Err(format!("format: {o:?} is not prometheus or json")),
        };
        let mut labels: Labels = Labels::new();
        for (k, v) in self.labels {
            if !label_name_ok(&k) || k.starts_with("__") || k == "host" {
                return Err(format!(
                    "labels: {k:?} is not a label name dozor lets a target set"
                ));
            }
            labels.insert(k, v);
        }
        labels.insert("job".into(), self.job.clone());
        labels.insert("instance".into(), instance.clone());
        Ok(Target {
            job: self.job,
            url: self.url,
            instance,
            interval,
            timeout,
            format,
            labels,
            honor_labels: self.honor_labels,
            sample_limit: self.sample_limit.unwrap_or(DEFAULT_SAMPLE_LIMIT),
            body_limit: self.body_limit.unwrap_or(DEFAULT_BODY_LIMIT),
            json_prefix: self.json_prefix.unwrap_or_default(),
            json_label_keys: self.json_label_keys,
        })
    }
}

/// `--scrape JOB=URL`.
pub fn from_flag(s: &str, default_interval: Duration) -> Result<Target, String> {
    let (job, url) = s.split_once('=').ok_or_else(|| {
        format!("--scrape {s:?}: expected JOB=URL, e.g. api=http://127.0.0.1:9000/metrics")
    })?;
    TargetSpec {
        job: job.into(),
        url: url.into(),
        ..Default::default()
    }
    .compile(default_interval)
    .map_err(|e| format!("--scrape {s:?}: {e}"))
}

/// The `[[target]]`s of a scrape file; errors name the target.
pub fn parse_file(text: &str, default_interval: Duration) -> Result<Vec<Target>, String> {
    let spec: FileSpec = toml::from_str(text).map_err(|e| e.to_string())?;
    spec.targets
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let job = t.job.clone();
            t.compile(default_interval)
                .map_err(|e| format!("target {} ({job:?}): {e}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_load_with_defaults_and_clear_errors() {
        let t = parse_file(
            "[[target]]\njob = \"api\"\nurl = \"http://10.0.0.5:9000/metrics\"\nlabels = { team = \"core\" }\n\n[[target]]\njob = \"app\"\nurl = \"https://app:8443/stats\"\nformat = \"json\"\ninterval = \"30s\"\njson_label_keys = [\"name\"]\n",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(t[0].instance, "10.0.0.5:9000");
        assert_eq!(t[0].labels["job"], "api");
        assert_eq!(t[0].labels["team"], "core");
        assert_eq!(
            (t[0].interval, t[0].timeout),
            (Duration::from_secs(10), Duration::from_secs(10))
        );
        assert_eq!(
            (t[1].format, t[1].timeout),
            (BodyFormat::Json, Duration::from_secs(10))
        );
        let e = parse_file(
            "[[target]]\njob = \"x\"\nurl = \"ftp://a\"\n",
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(e.starts_with("target 1 (\"x\"): url:"), "{e}");
        let e = parse_file(
            "[[target]]\njob = \"x\"\nurl = \"http://a\"\nlabels = { host = \"b\" }\n",
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(e.contains("\"host\" is not a label name"), "{e}");
        let e = parse_file(
            "[[target]]\njob = \"x\"\nurl = \"http://a\"\ntimeout = \"20s\"\n",
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(e.contains("timeout"), "{e}");
        assert!(parse_file(
            "[[target]]\njob = \"x\"\nurl = \"http://a\"\nbogus = 1\n",
            Duration::from_secs(10)
        )
        .is_err());
        let f = from_flag(
            "node=http://127.0.0.1:9100/metrics",
            Duration::from_secs(15),
        )
        .unwrap();
        assert_eq!(
            (f.job.as_str(), f.instance.as_str()),
            ("node", "127.0.0.1:9100")
        );
        assert!(from_flag("http://x", Duration::from_secs(15)).is_err());
    }
}
