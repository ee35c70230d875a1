//! Converging on the host's desired state. Each heartbeat answer carries
//! the document's generation; when it differs from the one applied, this
//! loop fetches the whole document and hands each section to its applier
//! (scrape targets, and services through nginx; certificates and block
//! lists next), then records the generation applied and what failed, which the
//! next heartbeat reports. A section this agent has no applier for is
//! named in the error, never silently ignored.

use crate::agent::Agent;
use async_trait::async_trait;
use dozor_common::desired::{Applied, DesiredState, ScrapeTargets, Section};
use dozor_common::protection::Protection;
use dozor_common::services::Services;
use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[async_trait]
trait Applier: Send + Sync {
    async fn apply(&self, agent: &Arc<Agent>, doc: &DesiredState) -> Result<(), String>;
}

struct Typed<S, F> {
    f: F,
    section: PhantomData<fn() -> S>,
}

#[async_trait]
impl<S, F, Fut> Applier for Typed<S, F>
where
    S: Section,
    F: Fn(Arc<Agent>, S::Doc) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), String>> + Send,
{
    async fn apply(&self, agent: &Arc<Agent>, doc: &DesiredState) -> Result<(), String> {
        let section = doc
            .section::<S>()
            .map_err(|e| format!("cannot read section {}: {e}", S::NAME))?;
        (self.f)(agent.clone(), section).await
    }
}

/// Appliers by section name.
#[derive(Clone, Default)]
pub struct Converger {
    appliers: BTreeMap<&'static str, Arc<dyn Applier>>,
}

impl Converger {
    /// The sections every agent converges, without nginx.
    pub fn standard() -> Self {
        Self::with_parts(None, None, None)
    }

    pub fn with_nginx(nginx: Option<Arc<crate::nginx::Controller>>) -> Self {
        Self::with_parts(nginx, None, None)
    }

    /// The sections every agent converges: services and protection through
    /// `nginx` (an agent without nginx refuses a host's services), checks
    /// through the `checks` runner (when started).
    pub fn with_parts(
        nginx: Option<Arc<crate::nginx::Controller>>,
        checks: Option<Arc<crate::probes::checks::Runner>>,
        certs: Option<Arc<crate::certs::Manager>>,
    ) -> Self {
        Self::default()
            .register::<dozor_common::certs::Certificates, _, _>(move |_agent, doc| {
                let certs = certs.clone();
                async move {
                    match certs {
                        Some(m) => m.apply(doc),
                        None if doc.certs.is_empty() => Ok(()),
                        None => Err("nginx is off on this host, so it cannot hold certificates: run its collector with --nginx host or --nginx container:NAME".into()),
                    }
                }
            })
            .register::<dozor_common::checks::Checks, _, _>(move |_agent, doc| {
                let checks = checks.clone();
                async move {
                    match checks {
                        Some(r) => r.apply(doc),
                        None => Ok(()),
                    }
                }
            })
            .register::<ScrapeTargets, _, _>(|agent, targets| async move {
                agent.set_remote_targets(targets);
                Ok(())
            })
            .register::<Protection, _, _>({
                let nginx = nginx.clone();
                move |agent, doc| {
                    let nginx = nginx.clone();
                    async move {
                        match nginx {
                            Some(n) => n.protect(&agent, doc).await,
                            // Nothing to protect without nginx.
                            None => Ok(()),
                        }
                    }
                }
            })
            .register::<Services, _, _>(move |agent, doc| {
                let nginx = nginx.clone();
                async move {
                    match nginx {
                        Some(n) => n.apply(&agent, doc).await,
                        None if doc.services.is_empty() => Ok(()),
                        None => Err("nginx is off on this host: run its collector with --nginx host or --nginx container:NAME".into()),
                    }
                }
            })
    }

    pub fn register<S, F, Fut>(mut self, f: F) -> Self
    where
        S: Section,
        F: Fn(Arc<Agent>, S::Doc) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let a: Arc<dyn Applier> = Arc::new(Typed::<S, F> {
            f,
            section: PhantomData,
        });
        self.appliers.insert(S::NAME, a);
        self
    }

    pub fn sections(&self) -> Vec<String> {
        self.appliers.keys().map(|k| k.to_string()).collect()
    }

    /// Applies every section; the errors of those that failed, together.
    pub async fn converge(&self, agent: &Arc<Agent>, doc: &DesiredState) -> Applied {
        let mut errors = Vec::new();
        for (name, a) in &self.appliers {
            if let Err(e) = a.apply(agent, doc).await {
                errors.push(format!("{name}: {}", e.replace('\n', " / ")));
            }
        }
        for name in doc.sections.keys() {
            if !self.appliers.contains_key(name.as_str()) {
                errors.push(format!(
                    "{name}: this agent cannot apply it; upgrade its collector"
                ));
            }
        }
        Applied {
            generation: doc.generation,
            // One line per section, so a section's error can be replaced
            // alone (nginx's, when the containers change).
            error: (!errors.is_empty()).then(|| errors.join("\n")),
        }
    }
}

/// The agent's side of desired state: what it announces and applied.
impl Agent {
    pub fn set_desired_sections(&self, sections: Vec<String>) {
        let _ = self.desired_sections.set(sections);
    }

    pub fn desired_wanted(&self) -> Option<u64> {
        *self.desired_wanted.lock().expect("desired lock")
    }

    pub fn desired_applied(&self) -> dozor_common::desired::Applied {
        self.desired_applied.lock().expect("desired lock").clone()
    }

    pub fn set_desired_applied(&self, a: dozor_common::desired::Applied) {
        *self.desired_applied.lock().expect("desired lock") = a;
    }

    /// What this agent can do, announced in every heartbeat.
    pub(crate) fn capabilities(&self) -> dozor_common::protocol::Capabilities {
        dozor_common::protocol::Capabilities {
            protocol: dozor_common::protocol::PROTOCOL_VERSION,
            task_kinds: self.task_kinds(),
            desired_sections: self.desired_sections.get().cloned().unwrap_or_default(),
            nginx: self.nginx_info.get().cloned(),
        }
    }

    /// Notes the generation a heartbeat answer named; wakes the
    /// converger when it is not the one applied.
    pub(crate) fn desired_named(&self, generation: u64) {
        *self.desired_wanted.lock().expect("desired lock") = Some(generation);
        if self.desired_applied().generation != generation {
            self.desired_changed.notify_one();
        }
    }
}

/// Fetches and converges whenever the server names a generation other than
/// the one applied.
pub fn spawn(agent: Arc<Agent>, converger: Converger, shutdown: CancellationToken) {
    agent.set_desired_sections(converger.sections());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = agent.desired_changed.notified() => {}
            }
            let Some(wanted) = agent.desired_wanted() else {
                continue;
            };
            if agent.desired_applied().generation == wanted {
                continue;
            }
            match agent.sink().fetch_desired().await {
                Ok(doc) => {
                    let applied = converger.converge(&agent, &doc).await;
                    if let Some(e) = &applied.error {
                        tracing::warn!(generation = applied.generation, error = %e, "desired state not fully applied");
                    } else {
                        tracing::info!(generation = applied.generation, "desired state applied");
                    }
                    agent.set_desired_applied(applied);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot fetch the desired state; trying with the next heartbeat");
                }
            }
        }
    });
}
