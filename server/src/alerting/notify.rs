//! Notifications: what the outbox carries, the notifier trait, and the
//! Alertmanager-compatible webhook notifier (any tool that takes
//! Alertmanager webhooks takes dozor's).

use super::state::Labels;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One alert's notification, as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// "firing" or "resolved".
    pub status: String,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub value: Option<f64>,
    pub starts_at_ms: i64,
    pub ends_at_ms: Option<i64>,
    /// A reminder for an alert still firing (repeat_interval).
    #[serde(default)]
    pub repeat: bool,
}

impl Notification {
    pub fn alertname(&self) -> &str {
        self.labels
            .get("alertname")
            .map(String::as_str)
            .unwrap_or("alert")
    }

    pub fn severity(&self) -> &str {
        self.labels
            .get("severity")
            .map(String::as_str)
            .unwrap_or("warning")
    }
}

/// What one send delivers: a group's due notifications, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub group_labels: Labels,
    pub alerts: Vec<Notification>,
}

impl Message {
    pub fn one(n: Notification) -> Self {
        Self {
            group_labels: [("alertname".to_string(), n.alertname().to_string())]
                .into_iter()
                .collect(),
            alerts: vec![n],
        }
    }

    /// "firing" while any alert in it fires (Alertmanager's rule).
    pub fn status(&self) -> &str {
        if self.alerts.iter().any(|a| a.status == "firing") {
            "firing"
        } else {
            "resolved"
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Try again: after the receiver's `retry_after` when it gave one
    /// (which then holds every message to that target), else with backoff.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Will never work (chat gone, bot blocked, bad URL): give up.
    Permanent { reason: String },
}

/// A channel's sender. A message may take several parts (Telegram splits
/// long ones); the dispatcher sends them one at a time and records each
/// accepted part, so a crash between parts never sends one twice.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// How many parts `m` takes on this channel.
    fn parts(&self, _m: &Message) -> usize {
        1
    }
    /// Delivers part `part` (from 0) of `m`.
    async fn send_part(&self, target: &str, m: &Message, part: usize) -> Result<(), Failure>;
}

pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::promql::dates::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// Alertmanager-style: 16 hex digits of the labels' hash.
pub fn fingerprint(labels: &Labels) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(labels).unwrap_or_default();
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// Alertmanager's webhook body (version 4) for one message.
pub fn webhook_body(m: &Message, external_url: &str) -> serde_json::Value {
    let alerts: Vec<serde_json::Value> = m
        .alerts
        .iter()
        .map(|n| {
            let ends = n
                .ends_at_ms
                .map(rfc3339)
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
            serde_json::json!({
                "status": n.status,
                "labels": n.labels,
                "annotations": n.annotations,
                "startsAt": rfc3339(n.starts_at_ms),
                "endsAt": ends,
                "generatorURL": format!("{external_url}/alerts"),
                "fingerprint": fingerprint(&n.labels),
            })
        })
        .collect();
    let common = super::policy::common_labels(m.alerts.iter().map(|n| &n.labels));
    let common_annotations = {
        let mut it = m.alerts.iter().map(|n| &n.annotations);
        let mut c = it.next().cloned().unwrap_or_default();
        for a in it {
            c.retain(|k, v| a.get(k) == Some(v));
        }
        c
    };
    let group_key = m
        .group_labels
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(",");
    serde_json::json!({
        "version": "4",
        "groupKey": format!("{{}}:{{{group_key}}}"),
        "truncatedAlerts": 0,
        "status": m.status(),
        "receiver": "dozor",
        "groupLabels": m.group_labels,
        "commonLabels": common,
        "commonAnnotations": common_annotations,
        "externalURL": external_url,
        "alerts": alerts,
    })
}

pub struct Webhook {
    pub http: reqwest::Client,
    pub external_url: String,
}

#[async_trait]
impl Notifier for Webhook {
    async fn send_part(&self, url: &str, m: &Message, _part: usize) -> Result<(), Failure> {
        let retry = |reason: String| Failure::Retry {
            after: None,
            reason,
        };
        let resp = self
            .http
            .post(url)
            .json(&webhook_body(m, &self.external_url))
            .send()
            .await
            .map_err(|e| retry(format!("webhook: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else if status.as_u16() == 429 || status.is_server_error() {
            let after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs);
            Err(Failure::Retry {
                after,
                reason: format!("webhook answered {status}"),
            })
        } else {
            Err(Failure::Permanent {
                reason: format!("webhook answered {status}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_body_is_alertmanager_shaped() {
        let n = Notification {
            status: "firing".into(),
            labels: [("alertname".to_string(), "HighCpu".to_string())]
                .into_iter()
                .collect(),
            annotations: BTreeMap::new(),
            value: Some(1.0),
            starts_at_ms: 1_700_000_000_123,
            ends_at_ms: None,
            repeat: false,
        };
        let mut other = n.clone();
        other.status = "resolved".into();
        other.labels.insert("host".into(), "b".into());
        let b = webhook_body(&Message::one(n.clone()), "http://dozor:8080");
        assert_eq!(b["version"], "4");
        assert_eq!(b["alerts"][0]["startsAt"], "2023-11-14T22:13:20.123Z");
        assert_eq!(b["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(b["groupLabels"]["alertname"], "HighCpu");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        let mut m = Message::one(n);
        m.alerts.push(other);
        let b = webhook_body(&m, "http://dozor:8080");
        assert_eq!(b["status"], "firing", "firing while any alert fires");
        assert_eq!(b["alerts"][1]["status"], "resolved");
        assert_eq!(b["groupKey"], "{}:{alertname=\"HighCpu\"}");
        assert!(b["commonLabels"].get("host").is_none());
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
