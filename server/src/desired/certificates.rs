//! The `certificates` section: the certificates this host's services must
//! hold (each with its service's current domains) and the fleet's ACME
//! account. Left out while the host has none.

use super::Source;
use crate::storage::Store;
use async_trait::async_trait;
use dozor_common::certs::{Certificates, CertsDoc, Wanted};
use dozor_common::desired::Section;

pub struct CertificatesSource;

#[async_trait]
impl Source for CertificatesSource {
    fn name(&self) -> &'static str {
        Certificates::NAME
    }

    async fn build(
        &self,
        store: &Store,
        host: &str,
        _now_ms: i64,
    ) -> crate::storage::Result<serde_json::Value> {
        let services = store.services(Some(host)).await?;
        // By the services here now: a certificate follows its service to
        // another host, and the old host, no longer told of it, removes
        // its files (key included).
        let rows: Vec<_> = store
            .certificates(None)
            .await?
            .into_iter()
            .filter(|r| services.iter().any(|s| s.spec.name == r.service))
            .collect();
        if rows.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        let certs = rows
            .into_iter()
            .filter_map(|r| {
                let s = services.iter().find(|s| s.spec.name == r.service)?;
                Some(Wanted {
                    service: r.service,
                    domains: s.spec.domains.clone(),
                    source: r.source,
                    renew: r.renew,
                    revoke: r.revoke,
                })
            })
            .collect();
        let doc = CertsDoc {
            acme: store.acme().await?,
            certs,
        };
        Ok(super::value::<Certificates>(&doc))
    }
}
