//! Autoscaling: a service's policy (what to watch, when to add or remove
//! replicas, how many at most and at least), the decision rule the server
//! runs each evaluation (pure, so a replay of past data gives the same
//! answers as the live loop), and the task that asks a host to hold N
//! replicas. Kubernetes' HorizontalPodAutoscaler is the model: a
//! condition must hold for a while before it counts, each direction has
//! its own step and cooldown (scale-down slower by default), and a
//! scale-down that would push the remaining replicas back over the
//! scale-up threshold is not made (the flapping HPA users complain of).

mod metric;

pub use metric::Metric;
use serde::{Deserialize, Serialize};

/// One direction's rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub threshold: f64,
    /// How long the condition must hold.
    pub for_s: u32,
    /// Replicas added or removed at once.
    pub step: u32,
    /// After an action, how long before the next in this direction.
    pub cooldown_s: u32,
}

/// A service's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub service: String,
    pub enabled: bool,
    /// Decide and record, change nothing.
    pub dry_run: bool,
    pub min: u32,
    pub max: u32,
    pub metric: Metric,
    /// For `Metric::Promql`.
    pub promql: Option<String>,
    /// The rate window of the built-in metrics, seconds: shorter reacts
    /// sooner, longer rides out spikes.
    pub window_s: u32,
    pub up: Rule,
    pub down: Rule,
    /// A scale-down must leave the projected value this far under the
    /// scale-up threshold (0.1: 10%).
    pub tolerance: f64,
    /// How long a replica taken out of nginx gets to finish its requests.
    pub drain_s: u32,
    /// The container replicas are cloned from; the oldest labelled one
    /// when empty.
    pub template: Option<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            service: String::new(),
            enabled: true,
            dry_run: false,
            min: 1,
            max: 4,
            metric: Metric::Cpu,
            promql: None,
            window_s: 60,
            up: Rule {
                threshold: 80.0,
                for_s: 60,
                step: 1,
                cooldown_s: 120,
            },
            down: Rule {
                threshold: 30.0,
                for_s: 300,
                step: 1,
                cooldown_s: 300,
            },
            tolerance: 0.1,
            drain_s: 10,
            template: None,
        }
    }
}

/// A policy's problems, each naming its field.
pub fn check(p: &Policy) -> Result<(), Vec<(&'static str, String)>> {
    let mut e = Vec::new();
    if p.min > p.max {
        e.push(("min", format!("min ({}) is above max ({})", p.min, p.max)));
    }
    if p.max == 0 || p.max > 100 {
        e.push(("max", "between 1 and 100 replicas".to_string()));
    }
    for (field, r) in [("up", &p.up), ("down", &p.down)] {
        if !r.threshold.is_finite() || r.threshold < 0.0 {
            e.push((field, "the threshold is a number, 0 or more".into()));
        }
        if r.step == 0 || r.step > 10 {
            e.push((field, "a step of 1 to 10 replicas".into()));
        }
        if r.for_s > 86_400 || r.cooldown_s > 86_400 {
            e.push((field, "durations of at most a day".into()));
        }
    }
    if !(0.0..0.9).contains(&p.tolerance) {
        e.push(("tolerance", "a fraction from 0 to 0.9".into()));
    }
    if p.down.threshold >= p.up.threshold * (1.0 - p.tolerance) {
        e.push((
            "down",
            format!(
                "the scale-down threshold must be under the scale-up one by the tolerance (below {})",
                p.up.threshold * (1.0 - p.tolerance)
            ),
        ));
    }
    if p.metric == Metric::Promql && p.promql.as_deref().is_none_or(|q| q.trim().is_empty()) {
        e.push(("promql", "the expression to watch".into()));
    }
    if !(5..=3600).contains(&p.window_s) {
        e.push(("window_s", "a rate window of 5 to 3600 s".into()));
    }
    if p.drain_s > 600 {
        e.push(("drain_s", "at most 600 s".into()));
    }
    if let Some(t) = &p.template {
        if t.is_empty()
            || t.len() > 128
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            e.push(("template", "a container name".into()));
        }
    }
    if e.is_empty() {
        Ok(())
    } else {
        Err(e)
    }
}

/// What the server sees when it evaluates a policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    /// None: the query returned nothing (no data).
    pub value: Option<f64>,
    /// The newest sample behind the value is recent enough.
    pub fresh: bool,
    pub host_online: bool,
    /// A scale task for this service has not finished.
    pub pending: bool,
    /// Replicas running now (the template included).
    pub replicas: u32,
}

/// What a policy remembers between evaluations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Since when the value has been above the scale-up threshold (ms).
    pub above_since: Option<i64>,
    pub below_since: Option<i64>,
    pub last_up_ms: Option<i64>,
    pub last_down_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// One evaluation's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to do, and why (the value is inside the band, or a
    /// condition has not held long enough).
    Hold(String),
    /// Something would be done, but not now; recorded with its reason.
    Skip(Direction, String),
    Scale {
        direction: Direction,
        from: u32,
        to: u32,
    },
}

/// The decision rule. `mem` carries the for-durations and cooldowns.
pub fn decide(p: &Policy, o: &Observed, mem: &mut Memory, now_ms: i64) -> Decision {
    // Stale first: an agent that stopped goes stale long before the
    // server calls its host offline.
    let Some(v) = o.value.filter(|v| v.is_finite() && o.fresh) else {
        mem.above_since = None;
        mem.below_since = None;
        let why = if o.value.is_none() {
            "no data"
        } else {
            "stale"
        };
        return Decision::Hold(why.into());
    };
    if !o.host_online {
        return Decision::Hold("host offline".into());
    }
    let n = o.replicas;
    // Below min or above max (someone removed or added containers):
    // back inside at once, whatever the value.
    if n < p.min {
        return guarded(o, Direction::Up, n, p.min);
    }
    if n > p.max {
        return guarded(o, Direction::Down, n, p.max);
    }
    let held = |since: &mut Option<i64>, cond: bool, for_s: u32| -> Option<i64> {
        if !cond {
            *since = None;
            return None;
        }
        let s = *since.get_or_insert(now_ms);
        Some(now_ms - s - i64::from(for_s) * 1000)
    };
    if let Some(over) = held(&mut mem.above_since, v > p.up.threshold, p.up.for_s) {
        mem.below_since = None;
        if over < 0 {
            return Decision::Hold(format!(
                "{v:.3} above {} for {} s of {} s",
                p.up.threshold,
                (over + i64::from(p.up.for_s) * 1000) / 1000,
                p.up.for_s
            ));
        }
        if n >= p.max {
            return Decision::Skip(Direction::Up, format!("max reached ({})", p.max));
        }
        if let Some(wait) = cooling(mem.last_up_ms, p.up.cooldown_s, now_ms) {
            return Decision::Skip(Direction::Up, format!("cooldown ({wait} s left)"));
        }
        return guarded(o, Direction::Up, n, (n + p.up.step).min(p.max));
    }
    if let Some(over) = held(&mut mem.below_since, v < p.down.threshold, p.down.for_s) {
        if over < 0 {
            return Decision::Hold(format!(
                "{v:.3} below {} for {} s of {} s",
                p.down.threshold,
                (over + i64::from(p.down.for_s) * 1000) / 1000,
                p.down.for_s
            ));
        }
        if n <= p.min {
            return Decision::Skip(Direction::Down, format!("min reached ({})", p.min));
        }
        if let Some(wait) = cooling(mem.last_down_ms, p.down.cooldown_s, now_ms)
            .or_else(|| cooling(mem.last_up_ms, p.down.cooldown_s, now_ms))
        {
            return Decision::Skip(Direction::Down, format!("cooldown ({wait} s left)"));
        }
        let to = n.saturating_sub(p.down.step).max(p.min).max(1);
        if p.metric.per_replica() {
            let projected = v * f64::from(n) / f64::from(to);
            let ceiling = p.up.threshold * (1.0 - p.tolerance);
            if projected >= ceiling {
                return Decision::Hold(format!(
                    "{to} replicas would run at {projected:.3}, over {ceiling:.3}"
                ));
            }
        }
        return guarded(o, Direction::Down, n, to);
    }
    Decision::Hold(format!("{v:.3} inside the band"))
}

/// A scale, unless the previous action has not finished.
fn guarded(o: &Observed, direction: Direction, from: u32, to: u32) -> Decision {
    if o.pending {
        return Decision::Skip(direction, "the previous action has not finished".into());
    }
    Decision::Scale {
        direction,
        from,
        to,
    }
}

/// Seconds of cooldown left, if any.
fn cooling(last: Option<i64>, cooldown_s: u32, now_ms: i64) -> Option<i64> {
    let left = last? + i64::from(cooldown_s) * 1000 - now_ms;
    (left > 0).then(|| (left + 999) / 1000)
}

/// Notes an action taken, for the cooldowns.
pub fn acted(mem: &mut Memory, direction: Direction, now_ms: i64) {
    match direction {
        Direction::Up => mem.last_up_ms = Some(now_ms),
        Direction::Down => mem.last_down_ms = Some(now_ms),
    }
    mem.above_since = None;
    mem.below_since = None;
}

/// Asks a host to run `replicas` containers of a service: clones of its
/// template up to that count, or the newest clones drained and removed
/// down to it. Idempotent: a host that already runs that many does
/// nothing, so a task delivered twice changes nothing twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    pub service: String,
    pub replicas: u32,
    pub template: Option<String>,
    pub drain_s: u32,
}

/// What a host did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scaled {
    pub before: u32,
    pub after: u32,
    pub created: Vec<String>,
    pub removed: Vec<String>,
}

pub struct ScaleService;

impl crate::tasks::TaskKind for ScaleService {
    const NAME: &'static str = "service.scale";
    type Request = Scale;
    type Output = Scaled;
}

/// The label dozor puts on the replicas it creates (the service's name):
/// only these are ever removed.
pub const REPLICA_LABEL: &str = "dozor.replica";

#[cfg(test)]
mod tests;
