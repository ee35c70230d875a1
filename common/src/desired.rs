//! Desired state per host: what must stay true on it (scrape targets now;
//! services, certificates and block lists next), as one versioned
//! document of named sections. Every heartbeat answer carries the
//! document's generation; an agent whose applied generation differs
//! fetches the whole document, converges every section it knows, and
//! reports the generation it applied and any error in its next heartbeat.
//! An agent that was away converges when it returns: reconcile, don't
//! replay commands.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET` with the agent key: the host's whole document.
pub const DESIRED_STATE_PATH: &str = "/api/v1/agents/desired-state";

/// One section of the document.
pub trait Section: Send + Sync + 'static {
    /// The section's key in the document; never changes once released.
    const NAME: &'static str;
    /// Its content; a missing section means the default (nothing wanted).
    type Doc: Serialize + DeserializeOwned + Default + PartialEq + Send;
}

/// The document for one host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DesiredState {
    /// Grows by one each time the document changes.
    pub generation: u64,
    pub sections: BTreeMap<String, serde_json::Value>,
}

impl DesiredState {
    /// The section of kind `S`: its default when absent.
    pub fn section<S: Section>(&self) -> Result<S::Doc, serde_json::Error> {
        match self.sections.get(S::NAME) {
            Some(v) => serde_json::from_value(v.clone()),
            None => Ok(S::Doc::default()),
        }
    }

    pub fn set<S: Section>(&mut self, doc: &S::Doc) -> Result<(), serde_json::Error> {
        self.sections
            .insert(S::NAME.to_string(), serde_json::to_value(doc)?);
        Ok(())
    }
}

/// What an agent reports after converging.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub generation: u64,
    /// Sections that did not converge, each with why; None when all did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Scrape targets the server defines for the host.
pub struct ScrapeTargets;

impl Section for ScrapeTargets {
    const NAME: &'static str = "scrape_targets";
    type Doc = Vec<crate::protocol::RemoteTarget>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RemoteTarget;

    #[test]
    fn sections_round_trip_and_default_when_absent() {
        let mut d = DesiredState::default();
        assert!(d.section::<ScrapeTargets>().unwrap().is_empty());
        let t = vec![RemoteTarget {
            job: "api".into(),
            url: "http://a:9000/metrics".into(),
            ..Default::default()
        }];
        d.set::<ScrapeTargets>(&t).unwrap();
        let back: DesiredState = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back.section::<ScrapeTargets>().unwrap(), t);
    }
}
