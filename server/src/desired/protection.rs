//! The `protection` section: the fleet's settings, the blocks in force on
//! every host (the fleet rule's and admins'), this host's blocks an admin
//! ended, and the addresses agents' heartbeats come from (never blocked). Sent only to hosts whose agent runs nginx; the others have
//! nothing to protect.

use super::Source;
use crate::storage::Store;
use async_trait::async_trait;
use dozor_common::cidr::Cidr;
use dozor_common::desired::Section;
use dozor_common::protection::{Block, Protection, ProtectionDoc, Reason};

pub struct ProtectionSource;

/// How long an ended block is remembered in the document: an agent away
/// longer has let its own block expire anyway (the longest lasts a day by
/// default).
const RELEASED_FOR_MS: i64 = 86_400_000;

pub async fn doc(
    store: &Store,
    host: &str,
    now_ms: i64,
) -> crate::storage::Result<Option<ProtectionDoc>> {
    let Some(agent) = store.agent_by_name(host).await? else {
        return Ok(None);
    };
    if store
        .capabilities(agent.id)
        .await?
        .and_then(|c| c.nginx)
        .is_none()
    {
        return Ok(None);
    }
    let settings = store.protection_settings().await?;
    let mut blocks = Vec::new();
    let mut released = Vec::new();
    for b in store.blocks(now_ms - RELEASED_FOR_MS, 10_000).await? {
        let Ok(address) = b.address.parse::<Cidr>() else {
            continue;
        };
        match (&b.host, b.removed_ms) {
            (None, None) if b.active(now_ms) => blocks.push(Block {
                address,
                reason: Reason::parse(&b.reason).unwrap_or(Reason::Manual),
                expires_ms: b.until_ms,
            }),
            (Some(h), Some(at)) if h == host => released.push((address, at)),
            _ => {}
        }
    }
    blocks.sort_by_key(|b| b.address);
    released.sort();
    let own = store
        .agent_addresses()
        .await?
        .iter()
        .filter_map(|a| a.parse::<Cidr>().ok())
        .collect();
    Ok(Some(ProtectionDoc {
        settings,
        blocks,
        own,
        released,
    }))
}

#[async_trait]
impl Source for ProtectionSource {
    fn name(&self) -> &'static str {
        Protection::NAME
    }

    async fn build(
        &self,
        store: &Store,
        host: &str,
        now_ms: i64,
    ) -> crate::storage::Result<serde_json::Value> {
        Ok(match doc(store, host, now_ms).await? {
            Some(d) => super::value::<Protection>(&d),
            None => serde_json::Value::Null,
        })
    }
}
