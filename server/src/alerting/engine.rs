//! Rule evaluation: each group on its interval runs its rules through the
//! PromQL engine at one timestamp, advances the state machine, and saves
//! the rule's alerts, history and notifications in one transaction.
//! Recording rules write their results back as samples.

use super::mutes::Mutes;
use super::notify::Notification;
use super::policy::{self, Schedule};
use super::rules::{AlertRule, Group, RecordingRule, Rule};
use super::state::{self, Active, Change, Labels, State};
use super::AlertingConfig;
use crate::clock::Clock;
use crate::promql::{self, value::Value};
use crate::storage::{ChatLink, HistoryRow, OutboxItem, RuleUpdate, Store};
use dozor_common::{Sample, SeriesBatch};
use std::collections::{BTreeMap, HashMap, HashSet};
use tokio::sync::Mutex;

pub struct Alerting {
    /// Groups from rule files, fixed at start.
    pub groups: Vec<Group>,
    /// The built-in rules and the rules made in the UI, one group each;
    /// replaced when any of them changes.
    ui_groups: std::sync::RwLock<Vec<Group>>,
    /// Stored UI rules that no longer compile (name, error): skipped, kept
    /// (with their alert states) and shown on the Rules page to be fixed.
    ui_broken: std::sync::RwLock<Vec<(String, String)>>,
    pub config: AlertingConfig,
    engine: promql::Engine,
    pub(super) store: Store,
    clock: Clock,
    /// Per alerting rule (by key, see `rules::rule_key`): its pending and
    /// firing alerts.
    pub(super) states: Mutex<super::stored::States>,
    /// When each channel's alert groups are next flushed.
    schedule: std::sync::Mutex<Schedule>,
    /// Signalled after notifications are committed (wakes the dispatcher).
    pub queued: std::sync::Arc<tokio::sync::Notify>,
    /// Per rule key: last evaluation time and error, for the rules API.
    health: std::sync::Mutex<HashMap<String, (i64, Option<String>)>>,
}

/// The alert's labels: the sample's (without `__name__`), then the rule's.
fn alert_labels(rule: &AlertRule, metric: &promql::value::Metric) -> Labels {
    let mut l = promql::value::without_name(metric).into_map();
    l.extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    l
}

impl Alerting {
    /// Loads persisted alerts; pending timers restart after a long outage.
    pub async fn load(
        config: AlertingConfig,
        groups: Vec<Group>,
        engine: promql::Engine,
        store: Store,
        clock: Clock,
    ) -> crate::storage::Result<Self> {
        let states = super::stored::load(&store, &groups, &clock, config.restart_tolerance).await?;
        Ok(Self {
            groups,
            config,
            engine,
            store,
            clock,
            states: Mutex::new(states),
            schedule: Default::default(),
            queued: Default::default(),
            ui_groups: Default::default(),
            ui_broken: Default::default(),
            health: Default::default(),
        })
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Every group: rule files' first, then the UI's.
    pub fn all_groups(&self) -> Vec<Group> {
        let ui = self.ui_groups.read().expect("lock");
        self.groups.iter().chain(ui.iter()).cloned().collect()
    }

    /// Names of the rules from rule files (UI rules may not reuse them).
    pub fn file_rule_names(&self) -> HashSet<String> {
        self.groups
            .iter()
            .flat_map(|g| g.rules.iter().map(|r| r.name().to_string()))
            .collect()
    }

    /// Evaluates `expr` once, now, so a rule that parses but cannot be
    /// evaluated is refused when it is saved instead of failing on every
    /// tick. Storage trouble and timeouts say nothing about the rule.
    pub async fn try_expr(&self, expr: &str) -> Result<(), String> {
        match self.engine.instant(expr, self.clock.now_ms()).await {
            Err(e @ (promql::QueryError::BadData(_) | promql::QueryError::Execution(_))) => {
                Err(e.to_string())
            }
            _ => Ok(()),
        }
    }

    /// Stored UI rules that do not compile, with their errors.
    pub fn broken_ui_rules(&self) -> Vec<(String, String)> {
        self.ui_broken.read().expect("lock").clone()
    }

    /// Replaces the UI's rules, and the list of those that do not compile.
    /// Alerts of rules that are gone are forgotten (in memory and in
    /// storage) without notifications; a broken rule is not gone.
    pub async fn set_ui_groups(
        &self,
        groups: Vec<Group>,
        broken: Vec<(String, String)>,
    ) -> crate::storage::Result<()> {
        let keep: HashSet<&str> = groups
            .iter()
            .chain(self.groups.iter())
            .flat_map(|g| g.rules.iter().map(Rule::key))
            .collect();
        // A rule that does not compile has no keys; its source stands in.
        let broken_sources: HashSet<String> = broken
            .iter()
            .map(|(name, _)| super::rules::ui_source(name))
            .collect();
        let kept = |key: &str| {
            keep.contains(key)
                || super::rules::parse_key(key).is_some_and(|k| broken_sources.contains(&k.0))
        };
        let gone: Vec<String> = {
            let ui = self.ui_groups.read().expect("lock");
            ui.iter()
                .flat_map(|g| g.rules.iter().map(Rule::key))
                .filter(|k| !kept(k))
                .map(str::to_string)
                .collect()
        };
        let mut states = self.states.lock().await;
        let moves = super::stored::adopt_legacy(&mut states, &groups);
        let now = self.clock.now_ms();
        super::stored::save_moves(&self.store, &states, &moves, |_| now).await?;
        for key in gone {
            states.remove(&key);
            self.health.lock().expect("lock").remove(&key);
            self.store
                .save_rule_update(&RuleUpdate {
                    rule: key,
                    eval_ms: now,
                    ..Default::default()
                })
                .await?;
        }
        drop(states);
        *self.ui_broken.write().expect("lock") = broken;
        *self.ui_groups.write().expect("lock") = groups;
        Ok(())
    }

    /// The current pending and firing alerts of each rule, by rule key.
    pub async fn snapshot(&self) -> HashMap<String, BTreeMap<Labels, Active>> {
        self.states.lock().await.clone()
    }

    /// The last evaluation time and error of the rule with this key.
    pub fn health(&self, rule: &str) -> Option<(i64, Option<String>)> {
        self.health.lock().expect("lock").get(rule).cloned()
    }

    /// Evaluates every rule of `g` at `now_ms`.
    #[tracing::instrument(skip_all, fields(group = %g.name))]
    pub async fn eval_group(&self, g: &Group, now_ms: i64) {
        let mutes = self.mutes(now_ms).await;
        let links = self.store.chat_links().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read Telegram links; notifying configured chats only");
            Vec::new()
        });
        let mut updates = Vec::new();
        let mut befores = Vec::new();
        let mut errors: HashMap<String, String> = HashMap::new();
        for rule in &g.rules {
            let result = match rule {
                Rule::Alert(a) => {
                    self.eval_alert(a, &mutes, &links, now_ms)
                        .await
                        .map(|(u, before)| {
                            updates.push(u);
                            befores.push((a.key.clone(), before));
                        })
                }
                Rule::Record(r) => self.eval_record(r, now_ms).await,
            };
            if let Err(e) = result {
                errors.insert(rule.key().to_string(), e);
            }
        }
        // One transaction for the group's states, history and outbox.
        if !updates.is_empty() {
            let queued = updates.iter().any(|u| !u.outbox.is_empty());
            let saved = self.store.save_rule_updates(&updates).await;
            if saved.is_ok() && queued {
                self.queued.notify_one();
            }
            if let Err(e) = saved {
                // Not saved: roll the in-memory states back, so the next
                // evaluation produces the same transitions again.
                let mut states = self.states.lock().await;
                for (key, before) in befores {
                    errors.insert(key.clone(), format!("cannot save alert state: {e}"));
                    states.insert(key, before);
                }
            }
        }
        let mut health = self.health.lock().expect("lock");
        for rule in &g.rules {
            let err = errors.remove(rule.key());
            if let Some(e) = &err {
                tracing::warn!(rule = %rule.name(), group = %g.name, error = %e, "rule evaluation failed");
            }
            health.insert(rule.key().to_string(), (now_ms, err));
        }
    }

    async fn vector(&self, expr: &str, now_ms: i64) -> Result<Vec<promql::value::Sample>, String> {
        match self
            .engine
            .instant(expr, now_ms)
            .await
            .map_err(|e| e.to_string())?
        {
            Value::Vector(v) => Ok(v),
            Value::Scalar(s) => Ok(vec![promql::value::Sample {
                metric: Default::default(),
                t: now_ms,
                v: s,
            }]),
            other => Err(format!(
                "rule expressions must give a vector, not a {}",
                other.type_name()
            )),
        }
    }

    async fn eval_record(&self, r: &RecordingRule, now_ms: i64) -> Result<(), String> {
        let v = self.vector(&r.expr, now_ms).await?;
        let batches: Vec<SeriesBatch> = v
            .into_iter()
            .filter(|s| !promql::value::is_stale(s.v))
            .map(|s| {
                let mut labels = promql::value::without_name(&s.metric);
                labels.extend(r.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                SeriesBatch::new(
                    r.name.clone(),
                    labels.into_iter().collect(),
                    vec![Sample::new(now_ms, s.v)],
                )
            })
            .collect();
        if batches.is_empty() {
            return Ok(());
        }
        // Prometheus refuses to record two values under one series.
        let mut seen = HashSet::with_capacity(batches.len());
        if !batches.iter().all(|b| seen.insert(&b.labels)) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            );
        }
        self.store
            .append(&batches, now_ms)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The rule's evaluation, to be saved with the group's, and its
    /// alerts as they were before (to roll back if saving fails).
    async fn eval_alert(
        &self,
        a: &AlertRule,
        mutes: &Mutes,
        links: &[ChatLink],
        now_ms: i64,
    ) -> Result<(RuleUpdate, BTreeMap<Labels, Active>), String> {
        let results: Vec<(Labels, f64)> = self
            .vector(&a.expr, now_ms)
            .await?
            .into_iter()
            .map(|s| (alert_labels(a, &s.metric), s.v))
            .collect();
        // Two results that become one alert would hide one of them.
        let mut seen = HashSet::with_capacity(results.len());
        if !results.iter().all(|(l, _)| seen.insert(l)) {
            return Err(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            );
        }
        let recovered: HashSet<Labels> = match &a.recovery {
            Some(expr) => self
                .vector(expr, now_ms)
                .await?
                .iter()
                .map(|s| alert_labels(a, &s.metric))
                .collect(),
            None => HashSet::new(),
        };
        let mut states = self.states.lock().await;
        let active = states.entry(a.key.clone()).or_default();
        let before = active.clone();
        let transitions = state::step(active, a.timing, results, &recovered, now_ms);
        let mut update = RuleUpdate {
            rule: a.key.clone(),
            eval_ms: now_ms,
            ..Default::default()
        };
        let policy = a.policy.effective(self.config.policy_defaults());
        let targets = self.config.targets(&policy.channels, links);
        let repeat_ms = policy.repeat_interval_ms;
        let mut schedule = self.schedule.lock().expect("lock");
        schedule.prune(now_ms);
        let mut notify =
            |labels: &Labels, al: &Active, status: &str, ends: Option<i64>, repeat: bool| {
                let annotations = a
                    .annotations
                    .iter()
                    .map(|(k, _, t)| (k.clone(), t.render(labels, al.value)))
                    .collect();
                let n = Notification {
                    status: status.into(),
                    labels: labels.clone(),
                    annotations,
                    value: crate::storage::alerts::finite(al.value),
                    starts_at_ms: al.fired_at_ms.unwrap_or(al.active_at_ms),
                    ends_at_ms: ends,
                    repeat,
                };
                let payload = serde_json::to_string(&n).expect("notifications serialise");
                let group = policy::group_key(&policy.group_labels(labels));
                for c in &targets {
                    // Idempotency: one notification per alert, event and channel.
                    let key = crate::auth::hash_secret(&format!(
                        "{}|{}|{status}|{now_ms}|{c}",
                        a.key,
                        super::stored::labels_json(labels)
                    ));
                    update.outbox.push(OutboxItem {
                        channel: c.clone(),
                        key,
                        payload: payload.clone(),
                        due_ms: schedule.due(c, &group, &policy, now_ms),
                        group_key: group.clone(),
                    });
                }
            };
        for t in &transitions {
            update.history.push(HistoryRow {
                ts_ms: now_ms,
                rule: a.name.clone(),
                labels: super::stored::labels_json(&t.labels),
                change: t.change.as_str().into(),
                value: crate::storage::alerts::finite(t.value),
                severity: a.severity().into(),
            });
            if t.change == Change::Resolved {
                let gone = before
                    .get(&t.labels)
                    .cloned()
                    .expect("resolved alerts were active");
                // Only alerts that were announced get a resolution.
                if gone.last_notified_ms.is_some() {
                    notify(&t.labels, &gone, "resolved", Some(now_ms), false);
                }
            }
        }
        // Firing alerts: announce the new ones, remind about old ones,
        // unless silenced or inhibited (then they are announced when the
        // silence ends, if still firing).
        for (labels, al) in active
            .iter_mut()
            .filter(|(_, al)| al.state == State::Firing)
        {
            if mutes.muted(&a.key, labels, now_ms) {
                continue;
            }
            let repeat = match al.last_notified_ms {
                None => false,
                Some(l) if now_ms - l >= repeat_ms => true,
                Some(_) => continue,
            };
            al.last_notified_ms = Some(now_ms);
            let snapshot = al.clone();
            notify(labels, &snapshot, "firing", None, repeat);
        }
        update.alerts = super::stored::alert_rows(&a.key, active);
        Ok((update, before))
    }
}
