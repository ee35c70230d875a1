//! Notification policy, as Alertmanager's route: which labels group alerts
//! into one message, how long a new group waits for companions
//! (group_wait), how often a group's later changes go out
//! (group_interval), how often a still-firing alert is repeated, and
//! which channels receive it. Pure: the engine applies it, the outbox
//! dispatcher sends each group's due notifications as one message.

use super::state::Labels;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// A rule's own settings; `None` takes the server's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Label names; `["..."]` groups by every label (no grouping).
    pub group_by: Option<Vec<String>>,
    pub group_wait_ms: Option<i64>,
    pub group_interval_ms: Option<i64>,
    pub repeat_interval_ms: Option<i64>,
    /// Channel names (see `AlertingConfig::targets`); empty means "default".
    pub channels: Vec<String>,
}

/// The YAML fields a rule may carry (dozor's extension of Prometheus's
/// rule format; promtool ignores rule files that use them).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub group_by: Option<Vec<String>>,
    pub group_wait: Option<String>,
    pub group_interval: Option<String>,
    pub repeat_interval: Option<String>,
    #[serde(default)]
    pub channels: Vec<String>,
}

impl PolicySpec {
    pub fn compile(self) -> Result<Policy, String> {
        let ms = |what: &str, d: Option<String>| -> Result<Option<i64>, String> {
            d.map(|d| {
                dozor_common::parse_duration(&d)
                    .map(|d| d.as_millis() as i64)
                    .map_err(|e| format!("{what}: {e}"))
            })
            .transpose()
        };
        let p = Policy {
            group_by: self.group_by,
            group_wait_ms: ms("group_wait", self.group_wait)?,
            group_interval_ms: ms("group_interval", self.group_interval)?,
            repeat_interval_ms: ms("repeat_interval", self.repeat_interval)?,
            channels: self.channels,
        };
        if p.group_interval_ms == Some(0) || p.repeat_interval_ms == Some(0) {
            return Err("group_interval and repeat_interval must be above zero".into());
        }
        Ok(p)
    }
}

/// The server-wide defaults (Alertmanager's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
}

/// A rule's policy with the defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    pub group_by: Vec<String>,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    pub channels: Vec<String>,
}

impl Policy {
    pub fn effective(&self, d: Defaults) -> Effective {
        Effective {
            group_by: self
                .group_by
                .clone()
                .unwrap_or_else(|| vec!["alertname".into()]),
            group_wait_ms: self.group_wait_ms.unwrap_or(d.group_wait_ms),
            group_interval_ms: self.group_interval_ms.unwrap_or(d.group_interval_ms),
            repeat_interval_ms: self.repeat_interval_ms.unwrap_or(d.repeat_interval_ms),
            channels: if self.channels.is_empty() {
                vec!["default".into()]
            } else {
                self.channels.clone()
            },
        }
    }
}

impl Effective {
    /// The labels that name the alert's group.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        if self.group_by.iter().any(|g| g == "...") {
            return labels.clone();
        }
        self.group_by
            .iter()
            .filter_map(|k| labels.get(k).map(|v| (k.clone(), v.clone())))
            .collect()
    }
}

/// Canonical text of a group's labels, stored with each outbox row.
pub fn group_key(group_labels: &Labels) -> String {
    serde_json::to_string(group_labels).expect("string maps serialise")
}

/// When each (target, group) is next flushed. In memory: after a restart a
/// group's next message waits group_wait rather than group_interval.
#[derive(Default)]
pub struct Schedule {
    flush: HashMap<(String, String), i64>,
}

impl Schedule {
    /// When a notification queued at `now_ms` for this target and group
    /// goes out: with a flush already scheduled it joins it; within
    /// group_interval of the last flush it waits for the next one; a new
    /// (or long idle) group waits group_wait for companions.
    pub fn due(&mut self, target: &str, group: &str, p: &Effective, now_ms: i64) -> i64 {
        let key = (target.to_string(), group.to_string());
        let due = match self.flush.get(&key).copied() {
            Some(at) if at >= now_ms => at,
            Some(at) if now_ms - at < p.group_interval_ms => at + p.group_interval_ms,
            _ => now_ms + p.group_wait_ms,
        };
        self.flush.insert(key, due);
        due
    }

    /// Forgets flushes older than a day, so the map stays small.
    pub fn prune(&mut self, now_ms: i64) {
        self.flush.retain(|_, at| now_ms - *at < 86_400_000);
    }
}

/// The labels every alert of a message shares (Alertmanager's commonLabels).
pub fn common_labels<'a>(all: impl IntoIterator<Item = &'a Labels>) -> Labels {
    let mut it = all.into_iter();
    let Some(first) = it.next() else {
        return BTreeMap::new();
    };
    let mut common = first.clone();
    for l in it {
        common.retain(|k, v| l.get(k) == Some(v));
    }
    common
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eff(wait: i64, interval: i64) -> Effective {
        Policy::default().effective(Defaults {
            group_wait_ms: wait,
            group_interval_ms: interval,
            repeat_interval_ms: 3_600_000,
        })
    }

    #[test]
    fn groups_wait_join_and_space_out() {
        let p = eff(30_000, 300_000);
        let mut s = Schedule::default();
        // A new group waits group_wait; a companion joins that flush.
        assert_eq!(s.due("t", "g", &p, 1_000), 31_000);
        assert_eq!(s.due("t", "g", &p, 20_000), 31_000);
        // Another target or group is independent.
        assert_eq!(s.due("u", "g", &p, 20_000), 50_000);
        // After the flush, changes wait for the next group_interval.
        assert_eq!(s.due("t", "g", &p, 40_000), 331_000);
        assert_eq!(s.due("t", "g", &p, 100_000), 331_000);
        // Idle longer than group_interval: a new start with group_wait.
        assert_eq!(s.due("t", "g", &p, 1_000_000), 1_030_000);
    }

    #[test]
    fn group_labels_and_defaults() {
        let l: Labels = [("alertname", "A"), ("host", "h1"), ("dev", "sda")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let p = eff(0, 1);
        assert_eq!(group_key(&p.group_labels(&l)), r#"{"alertname":"A"}"#);
        assert_eq!(p.channels, ["default"]);
        let mut by_host = p.clone();
        by_host.group_by = vec!["host".into(), "missing".into()];
        assert_eq!(group_key(&by_host.group_labels(&l)), r#"{"host":"h1"}"#);
        by_host.group_by = vec!["...".into()];
        assert_eq!(by_host.group_labels(&l), l);
        let mut other = l.clone();
        other.insert("dev".into(), "sdb".into());
        let common = common_labels([&l, &other]);
        assert_eq!(common.len(), 2);
        assert!(!common.contains_key("dev"));
        let spec = PolicySpec {
            group_interval: Some("0s".into()),
            ..Default::default()
        };
        assert!(spec.compile().is_err());
    }
}
