//! The evaluation loop: every group on its own interval.

use super::engine::Alerting;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Evaluates each group on its own interval until shutdown. One loop for
/// all groups, so groups made in the UI join and leave without restarts;
/// it sleeps until the next group is due, so evaluations are on time.
pub async fn run(alerting: Arc<Alerting>, shutdown: CancellationToken) {
    // Groups made in the UI are picked up within this long.
    const RECHECK: std::time::Duration = std::time::Duration::from_millis(250);
    let mut next: HashMap<String, Instant> = HashMap::new();
    loop {
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
            let now = Instant::now();
            let at = next.get(&key).copied().unwrap_or(now);
            if at > now {
                continue;
            }
            let every = std::time::Duration::from_millis(g.interval_ms.max(1000) as u64);
            // On schedule, without drift; a late evaluation does not queue
            // up the missed ones.
            next.insert(key, (at + every).max(now));
            alerting.eval_group(g, alerting.now_ms()).await;
        }
        let soonest = next.values().min().copied();
        let wake = soonest.map_or(Instant::now() + RECHECK, |t| {
            t.min(Instant::now() + RECHECK)
        });
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}
