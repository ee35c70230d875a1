//! What mutes notifications at one evaluation: active silences, and the
//! firing alerts of rules that inhibit others ("host down" mutes that
//! host's other alerts).

use super::engine::Alerting;
use super::rules::Rule;
use super::silence::{self, Silence};
use super::state::{Labels, State};

/// What mutes notifications at one evaluation: active silences, and the
/// firing alerts of rules that inhibit others.
pub struct Mutes {
    pub silences: Vec<Silence>,
    /// (inhibiting rule's key, label names, that alert's labels)
    pub inhibitors: Vec<(String, Vec<String>, Labels)>,
}

impl Mutes {
    /// Whether the alert with `labels` of the rule keyed `rule` is muted.
    pub fn muted(&self, rule: &str, labels: &Labels, now_ms: i64) -> bool {
        self.silences.iter().any(|s| s.mutes(labels, now_ms))
            || self.inhibitors.iter().any(|(source, names, src)| {
                source != rule
                    && names
                        .iter()
                        .all(|n| src.get(n).is_some() && src.get(n) == labels.get(n))
            })
    }
}

impl Alerting {
    /// Active silences (unreadable ones are logged and skipped) and the
    /// current inhibitors.
    pub async fn mutes(&self, now_ms: i64) -> Mutes {
        let rows = self.store.silences(now_ms).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read silences; notifying without them");
            Vec::new()
        });
        let silences = rows
            .into_iter()
            .filter_map(|r| match silence::from_json(&r.matchers) {
                Ok(matchers) => Some(Silence {
                    id: r.id,
                    matchers,
                    starts_ms: r.starts_ms,
                    ends_ms: r.ends_ms,
                }),
                Err(e) => {
                    tracing::warn!(id = r.id, error = %e, "unreadable silence skipped");
                    None
                }
            })
            .collect();
        let states = self.states.lock().await;
        let mut inhibitors = Vec::new();
        for g in &self.all_groups() {
            for r in &g.rules {
                let Rule::Alert(def) = r else { continue };
                if def.inhibits.is_empty() {
                    continue;
                }
                for (labels, al) in states.get(&def.key).into_iter().flatten() {
                    if al.state == State::Firing {
                        inhibitors.push((def.key.clone(), def.inhibits.clone(), labels.clone()));
                    }
                }
            }
        }
        Mutes {
            silences,
            inhibitors,
        }
    }
}
