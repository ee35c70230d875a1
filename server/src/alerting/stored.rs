//! How alert states outlive the process: the rows a rule's alerts are
//! stored as, loading them at start (pending timers restart after a long
//! outage), and moving states stored under a bare rule name, as dozor did
//! before rules had keys, onto the rule's key.

use super::rules::{Group, Rule};
use super::state::{self, Active, Labels, State};
use crate::clock::Clock;
use crate::storage::{AlertRow, RuleUpdate, Store};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Per rule key: its pending and firing alerts.
pub(super) type States = HashMap<String, BTreeMap<Labels, Active>>;

pub(super) fn labels_json(l: &Labels) -> String {
    serde_json::to_string(l).expect("string maps serialise")
}

/// A rule's alerts as stored.
pub(super) fn alert_rows(key: &str, active: &BTreeMap<Labels, Active>) -> Vec<AlertRow> {
    active
        .iter()
        .map(|(labels, al)| AlertRow {
            rule: key.to_string(),
            labels: labels_json(labels),
            state: al.state.as_str().into(),
            active_at_ms: al.active_at_ms,
            fired_at_ms: al.fired_at_ms,
            last_seen_ms: al.last_seen_ms,
            value: crate::storage::alerts::finite(al.value),
            last_notified_ms: al.last_notified_ms,
        })
        .collect()
}

/// Alert states stored before rules had keys are filed under the bare
/// rule name. Each such entry is moved, in memory, to the first alerting
/// rule of `groups` with that name; returns the moves (name, key).
pub(super) fn adopt_legacy(states: &mut States, groups: &[Group]) -> Vec<(String, String)> {
    let mut moves = Vec::new();
    for g in groups {
        for r in &g.rules {
            let Rule::Alert(a) = r else { continue };
            if states.contains_key(&a.key) {
                continue;
            }
            if let Some(active) = states.remove(&a.name) {
                states.insert(a.key.clone(), active);
                moves.push((a.name.clone(), a.key.clone()));
            }
        }
    }
    moves
}

/// The stored alerts, restored and keyed by rule (legacy ones adopted by
/// `groups` and moved in storage).
pub(super) async fn load(
    store: &Store,
    groups: &[Group],
    clock: &Clock,
    restart_tolerance: Duration,
) -> crate::storage::Result<States> {
    let (rows, evals) = store.load_alerts().await?;
    let evals: HashMap<String, i64> = evals.into_iter().collect();
    let mut states = States::new();
    for r in rows {
        let (Ok(labels), Some(st)) = (
            serde_json::from_str::<Labels>(&r.labels),
            State::parse(&r.state),
        ) else {
            tracing::warn!(rule = %r.rule, "skipping an unreadable stored alert");
            continue;
        };
        states.entry(r.rule).or_default().insert(
            labels,
            Active {
                state: st,
                active_at_ms: r.active_at_ms,
                fired_at_ms: r.fired_at_ms,
                last_seen_ms: r.last_seen_ms,
                value: r.value.unwrap_or(f64::NAN),
                last_notified_ms: r.last_notified_ms,
                // Not stored: after a restart keep_firing_for counts
                // from the first evaluation that misses the alert.
                absent_since_ms: None,
            },
        );
    }
    let now = clock.now_ms();
    let tolerance = restart_tolerance.as_millis() as i64;
    for (rule, active) in states.iter_mut() {
        let last = evals.get(rule).copied().unwrap_or(0);
        state::restore(active, last, now, tolerance);
    }
    let moves = adopt_legacy(&mut states, groups);
    save_moves(store, &states, &moves, |name| {
        evals.get(name).copied().unwrap_or(now)
    })
    .await?;
    Ok(states)
}

/// Saves `adopt_legacy`'s moves in one transaction: the states under
/// their keys, and none left under the old names (which would otherwise
/// be adopted again, stale, after the next restart).
pub(super) async fn save_moves(
    store: &Store,
    states: &States,
    moves: &[(String, String)],
    eval_ms: impl Fn(&str) -> i64,
) -> crate::storage::Result<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let mut updates = Vec::new();
    for (name, key) in moves {
        let eval_ms = eval_ms(name);
        tracing::info!(rule = %name, key = %key, "alert states stored under a rule name moved to the rule's key");
        updates.push(RuleUpdate {
            rule: name.clone(),
            eval_ms,
            ..Default::default()
        });
        updates.push(RuleUpdate {
            rule: key.clone(),
            eval_ms,
            alerts: alert_rows(key, states.get(key).expect("just moved")),
            ..Default::default()
        });
    }
    store.save_rule_updates(&updates).await
}
