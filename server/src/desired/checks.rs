//! The `checks` section: the checks this host's agent runs (those naming
//! it, and those naming no agent). Left out when there are none.

use super::Source;
use crate::storage::Store;
use async_trait::async_trait;
use dozor_common::checks::Checks;
use dozor_common::desired::Section;

pub struct ChecksSource;

#[async_trait]
impl Source for ChecksSource {
    fn name(&self) -> &'static str {
        Checks::NAME
    }

    async fn build(
        &self,
        store: &Store,
        host: &str,
        _now_ms: i64,
    ) -> crate::storage::Result<serde_json::Value> {
        let mine: Vec<_> = store
            .checks()
            .await?
            .into_iter()
            .filter(|c| c.agents.is_empty() || c.agents.iter().any(|a| a == host))
            .collect();
        Ok(if mine.is_empty() {
            serde_json::Value::Null
        } else {
            super::value::<Checks>(&mine)
        })
    }
}
