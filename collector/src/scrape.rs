//! Scraping `/metrics` endpoints: targets from the collector's config
//! (`target.rs`), one HTTP fetch each with timeout and body limit
//! (`fetch.rs`), and the scraper that parses, labels, limits and marks
//! stale series (`scraper.rs`). Each target runs on its own interval and
//! hands its samples to the agent's queue, like host metrics.

pub mod fetch;
pub mod scraper;
pub mod target;

use crate::agent::{now_ms, Agent};
pub use scraper::{Scraper, Status};
use std::sync::{Arc, Mutex};
pub use target::Target;
use tokio_util::sync::CancellationToken;

/// The client every scrape uses: no redirects to other hosts' secrets, no
/// proxy from the environment, dozor's user agent.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("dozor-collector/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(3))
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds")
}

/// Runs `targets` until shutdown; returns their live statuses.
pub fn spawn(
    targets: Vec<Target>,
    agent: Arc<Agent>,
    shutdown: CancellationToken,
) -> Vec<Arc<Mutex<Status>>> {
    let http = client();
    let mut statuses = Vec::new();
    for t in targets {
        let mut s = Scraper::new(t, http.clone());
        statuses.push(s.status.clone());
        let agent = agent.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(s.target.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {
                        let series = s.scrape(now_ms()).await;
                        agent.enqueue(series);
                    }
                }
            }
        });
    }
    statuses
}
