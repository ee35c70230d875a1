//! The `scrape_targets` section: targets defined on the server for a host.

use super::{value, Source};
use crate::storage::Store;
use async_trait::async_trait;
use dozor_common::desired::{ScrapeTargets, Section};
use dozor_common::protocol::RemoteTarget;

pub struct ScrapeTargetsSource;

/// The host's server-defined targets as agents receive them.
pub async fn targets(store: &Store, host: &str) -> crate::storage::Result<Vec<RemoteTarget>> {
    Ok(store
        .server_targets(Some(host))
        .await?
        .into_iter()
        .map(|t| RemoteTarget {
            job: t.job,
            url: t.url,
            interval: t.interval,
            format: Some(t.format),
        })
        .collect())
}

#[async_trait]
impl Source for ScrapeTargetsSource {
    fn name(&self) -> &'static str {
        ScrapeTargets::NAME
    }

    async fn build(
        &self,
        store: &Store,
        host: &str,
        _now_ms: i64,
    ) -> crate::storage::Result<serde_json::Value> {
        Ok(value::<ScrapeTargets>(&targets(store, host).await?))
    }
}
