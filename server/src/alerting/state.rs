//! The alert state machine, Prometheus's: Inactive → Pending → Firing →
//! Resolved, plus `keep_firing_for` and an optional recovery condition
//! (hysteresis). Pure: it gets the evaluation results and the time, and
//! returns the transitions; the engine persists and notifies.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

pub type Labels = BTreeMap<String, String>;

/// With a recovery condition, an alert whose series vanished from both
/// the expression and the recovery result resolves after this long, so
/// a removed host does not fire forever.
pub const GONE_AFTER_MS: i64 = 5 * 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Firing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Firing => "firing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(State::Pending),
            "firing" => Some(State::Firing),
            _ => None,
        }
    }
}

/// One pending or firing alert of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Active {
    pub state: State,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    /// Last evaluation whose result held this alert.
    pub last_seen_ms: i64,
    pub value: f64,
    /// Last time a notification was queued for it (repeat_interval).
    pub last_notified_ms: Option<i64>,
    /// First evaluation at which the expression stopped returning it;
    /// `keep_firing_for` counts from here, as in Prometheus.
    #[serde(default)]
    pub absent_since_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Pending,
    Firing,
    /// A pending alert whose condition cleared before `for` elapsed.
    Cleared,
    Resolved,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Pending => "pending",
            Change::Firing => "firing",
            Change::Cleared => "cleared",
            Change::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub labels: Labels,
    pub change: Change,
    pub value: f64,
    pub at_ms: i64,
    /// For Resolved: when it started firing.
    pub fired_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    pub has_recovery: bool,
}

/// Advances `active` to `now_ms` given the alerts the expression returned
/// (labels already final) and, with a recovery condition, the label sets
/// for which recovery holds.
pub fn step(
    active: &mut BTreeMap<Labels, Active>,
    timing: Timing,
    results: Vec<(Labels, f64)>,
    recovered: &HashSet<Labels>,
    now_ms: i64,
) -> Vec<Transition> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (labels, value) in results {
        seen.insert(labels.clone());
        match active.get_mut(&labels) {
            None => {
                let firing = timing.for_ms <= 0;
                active.insert(
                    labels.clone(),
                    Active {
                        state: if firing {
                            State::Firing
                        } else {
                            State::Pending
                        },
                        active_at_ms: now_ms,
                        fired_at_ms: firing.then_some(now_ms),
                        last_seen_ms: now_ms,
                        value,
                        last_notified_ms: None,
                        absent_since_ms: None,
                    },
                );
                out.push(Transition {
                    labels,
                    change: if firing {
                        Change::Firing
                    } else {
                        Change::Pending
                    },
                    value,
                    at_ms: now_ms,
                    fired_at_ms: firing.then_some(now_ms),
                });
            }
            Some(a) => {
                a.last_seen_ms = now_ms;
                a.absent_since_ms = None;
                a.value = value;
                if a.state == State::Pending && now_ms - a.active_at_ms >= timing.for_ms {
                    a.state = State::Firing;
                    a.fired_at_ms = Some(now_ms);
                    out.push(Transition {
                        labels,
                        change: Change::Firing,
                        value,
                        at_ms: now_ms,
                        fired_at_ms: Some(now_ms),
                    });
                }
            }
        }
    }
    let gone: Vec<Labels> = active
        .keys()
        .filter(|l| !seen.contains(*l))
        .cloned()
        .collect();
    for labels in gone {
        let a = active.get_mut(&labels).expect("listed above");
        let absent_since = *a.absent_since_ms.get_or_insert(now_ms);
        let kept =
            timing.keep_firing_for_ms > 0 && now_ms - absent_since < timing.keep_firing_for_ms;
        let since = now_ms - a.last_seen_ms;
        let change = match a.state {
            State::Pending => Some(Change::Cleared),
            State::Firing if kept => None,
            State::Firing if timing.has_recovery => {
                (recovered.contains(&labels) || since >= GONE_AFTER_MS).then_some(Change::Resolved)
            }
            State::Firing => Some(Change::Resolved),
        };
        if let Some(change) = change {
            let a = active.remove(&labels).expect("listed above");
            out.push(Transition {
                labels,
                change,
                value: a.value,
                at_ms: now_ms,
                fired_at_ms: a.fired_at_ms,
            });
        }
    }
    out
}

/// After a restart: pending `for` timers continue only if the server was
/// down less than `tolerance_ms`; otherwise they start again. Firing
/// alerts stay firing (and keep their notification time, so they are
/// not announced twice).
pub fn restore(
    active: &mut BTreeMap<Labels, Active>,
    last_eval_ms: i64,
    now_ms: i64,
    tolerance_ms: i64,
) {
    if now_ms - last_eval_ms <= tolerance_ms {
        return;
    }
    for a in active.values_mut() {
        if a.state == State::Pending {
            a.active_at_ms = now_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(host: &str) -> Labels {
        [
            ("alertname".to_string(), "HighCpu".to_string()),
            ("host".into(), host.into()),
        ]
        .into_iter()
        .collect()
    }

    fn changes(t: &[Transition]) -> Vec<(&str, Change)> {
        t.iter()
            .map(|t| (t.labels["host"].as_str(), t.change))
            .collect()
    }

    #[test]
    fn pending_then_firing_then_resolved() {
        let timing = Timing {
            for_ms: 60_000,
            ..Default::default()
        };
        let mut a = BTreeMap::new();
        let none = HashSet::new();
        let t = step(&mut a, timing, vec![(l("a"), 90.0)], &none, 0);
        assert_eq!(changes(&t), [("a", Change::Pending)]);
        assert!(step(&mut a, timing, vec![(l("a"), 91.0)], &none, 30_000).is_empty());
        let t = step(&mut a, timing, vec![(l("a"), 92.0)], &none, 60_000);
        assert_eq!(changes(&t), [("a", Change::Firing)]);
        let t = step(&mut a, timing, vec![], &none, 90_000);
        assert_eq!(changes(&t), [("a", Change::Resolved)]);
        assert_eq!(t[0].fired_at_ms, Some(60_000));
        assert!(a.is_empty());
        // A pending alert that clears early never fires.
        step(&mut a, timing, vec![(l("b"), 90.0)], &none, 100_000);
        let t = step(&mut a, timing, vec![], &none, 110_000);
        assert_eq!(changes(&t), [("b", Change::Cleared)]);
    }

    #[test]
    fn keep_firing_for_and_zero_for() {
        let timing = Timing {
            keep_firing_for_ms: 120_000,
            ..Default::default()
        };
        let mut a = BTreeMap::new();
        let none = HashSet::new();
        let t = step(&mut a, timing, vec![(l("a"), 1.0)], &none, 0);
        assert_eq!(changes(&t), [("a", Change::Firing)], "for: 0 fires at once");
        assert!(
            step(&mut a, timing, vec![], &none, 60_000).is_empty(),
            "kept firing"
        );
        // Back within the window: still the same firing alert, no new event.
        assert!(step(&mut a, timing, vec![(l("a"), 1.0)], &none, 90_000).is_empty());
        // Absent again from 200 s: kept until 2 minutes after that.
        assert!(step(&mut a, timing, vec![], &none, 200_000).is_empty());
        assert!(step(&mut a, timing, vec![], &none, 319_999).is_empty());
        let t = step(&mut a, timing, vec![], &none, 320_000);
        assert_eq!(changes(&t), [("a", Change::Resolved)]);
    }

    #[test]
    fn hysteresis_resolves_only_when_recovery_holds() {
        let timing = Timing {
            has_recovery: true,
            ..Default::default()
        };
        let mut a = BTreeMap::new();
        let mut rec = HashSet::new();
        step(&mut a, timing, vec![(l("a"), 85.0)], &rec, 0);
        // 75%: below the firing threshold, above recovery: still firing.
        assert!(step(&mut a, timing, vec![], &rec, 10_000).is_empty());
        assert!(step(&mut a, timing, vec![], &rec, 20_000).is_empty());
        // Flapping around 80% does not re-notify.
        assert!(step(&mut a, timing, vec![(l("a"), 81.0)], &rec, 30_000).is_empty());
        rec.insert(l("a"));
        let t = step(&mut a, timing, vec![], &rec, 40_000);
        assert_eq!(changes(&t), [("a", Change::Resolved)]);
        // A series that vanished from both resolves after GONE_AFTER_MS.
        step(
            &mut a,
            timing,
            vec![(l("b"), 85.0)],
            &HashSet::new(),
            50_000,
        );
        assert!(step(
            &mut a,
            timing,
            vec![],
            &HashSet::new(),
            50_000 + GONE_AFTER_MS - 1
        )
        .is_empty());
        let t = step(
            &mut a,
            timing,
            vec![],
            &HashSet::new(),
            50_000 + GONE_AFTER_MS,
        );
        assert_eq!(changes(&t), [("b", Change::Resolved)]);
    }

    #[test]
    fn restore_restarts_pending_timers_after_long_downtime() {
        let timing = Timing {
            for_ms: 600_000,
            ..Default::default()
        };
        let mut a = BTreeMap::new();
        step(&mut a, timing, vec![(l("a"), 1.0)], &HashSet::new(), 0);
        let mut short = a.clone();
        restore(&mut short, 100_000, 200_000, 3_600_000);
        assert_eq!(
            short[&l("a")].active_at_ms,
            0,
            "short outage: timer continues"
        );
        restore(&mut a, 100_000, 100_000 + 3_600_001, 3_600_000);
        assert_eq!(a[&l("a")].active_at_ms, 100_000 + 3_600_001);
    }
}
