//! The `services` section: the host's services and the error pages they
//! use (stored pages over dozor's defaults). Left out of the document
//! while the host has no service, so agents without nginx (or too old to
//! know the section) see nothing new.

use super::Source;
use crate::storage::Store;
use async_trait::async_trait;
use dozor_common::desired::Section;
use dozor_common::services::{error_pages, Services, ServicesDoc};
use std::collections::BTreeMap;

pub struct ServicesSource;

/// The host's section as its agent receives it (None: no services).
pub async fn doc(store: &Store, host: &str) -> crate::storage::Result<Option<ServicesDoc>> {
    let services: Vec<_> = store
        .services(Some(host))
        .await?
        .into_iter()
        .map(|r| r.spec)
        .collect();
    if services.is_empty() {
        return Ok(None);
    }
    let mut global = error_pages::defaults();
    let mut overrides: BTreeMap<String, BTreeMap<u16, String>> = BTreeMap::new();
    for p in store.error_pages().await? {
        if p.service.is_empty() {
            global.insert(p.status, p.html);
        } else if services.iter().any(|s| s.name == p.service) {
            overrides
                .entry(p.service)
                .or_default()
                .insert(p.status, p.html);
        }
    }
    Ok(Some(ServicesDoc {
        services,
        error_pages: global,
        overrides,
    }))
}

#[async_trait]
impl Source for ServicesSource {
    fn name(&self) -> &'static str {
        Services::NAME
    }

    async fn build(
        &self,
        store: &Store,
        host: &str,
        _now_ms: i64,
    ) -> crate::storage::Result<serde_json::Value> {
        Ok(match doc(store, host).await? {
            Some(d) => super::value::<Services>(&d),
            None => serde_json::Value::Null,
        })
    }
}
