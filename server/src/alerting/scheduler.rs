//! The evaluation loop: every group on its own interval.

use super::engine::Alerting;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Evaluates each group on its own interval until shutdown. One loop for
/// all groups, so groups made in the UI join and leave without restarts;
/// a group is due `interval` after its previous evaluation started.
pub async fn run(alerting: Arc<Alerting>, shutdown: CancellationToken) {
    let mut next: HashMap<String, tokio::time::Instant> = HashMap::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let groups = alerting.all_groups();
        // Two files may hold groups of the same name: number them.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let keys: Vec<String> = groups
            .iter()
            .map(|g| {
                let n = seen.entry(g.name.as_str()).or_default();
                *n += 1;
                format!("{}#{n}", g.name)
            })
            .collect();
        next.retain(|k, _| keys.contains(k));
        for (g, key) in groups.iter().zip(keys) {
            let now = tokio::time::Instant::now();
            let due = next.get(&key).is_none_or(|at| *at <= now);
            if !due {
                continue;
            }
            let every = std::time::Duration::from_millis(g.interval_ms.max(1000) as u64);
            next.insert(key, now + every);
            alerting.eval_group(g, alerting.now_ms()).await;
        }
    }
}
