//! What an agent runs for the server besides pushing samples: the task
//! runner with this build's task kinds, and the desired-state converger
//! with its sections. The collector binary, the server's built-in
//! collector, tests and benchmarks all start them here.

use crate::agent::Agent;
use crate::desired::Converger;
use crate::docker::actions::Policy;
use crate::tasks::Registry;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Every task kind this build runs.
pub fn registry(policy: Policy) -> Registry {
    crate::docker::tasks::register(Registry::default(), policy)
}

/// What this build announces at enrolment (heartbeats then announce the
/// running agent's own). The kinds do not depend on the action policy,
/// which each task checks when it runs.
pub fn capabilities() -> dozor_common::protocol::Capabilities {
    dozor_common::protocol::Capabilities {
        protocol: dozor_common::protocol::PROTOCOL_VERSION,
        task_kinds: registry(Policy::default()).kinds(),
        desired_sections: Converger::standard().sections(),
        // Announced with the first heartbeat, once nginx is set up.
        nginx: None,
    }
}

/// Starts the task runner and the converger for `agent` (nginx off).
pub fn spawn(agent: &Arc<Agent>, policy: Policy, shutdown: &CancellationToken) {
    spawn_with_nginx(agent, policy, None, shutdown);
}

/// Starts the task runner and the converger, with services converged
/// through `nginx`, whose upstreams then follow the containers.
pub fn spawn_with_nginx(
    agent: &Arc<Agent>,
    policy: Policy,
    nginx: Option<Arc<crate::nginx::Controller>>,
    shutdown: &CancellationToken,
) {
    let mut tasks = registry(policy);
    let mut certs = None;
    if let Some(n) = &nginx {
        let _ = agent.nginx_info.set(n.info());
        crate::nginx::spawn(agent.clone(), n.clone(), shutdown.clone());
        let m = crate::certs::Manager::new(n.clone());
        let _ = agent.certs.set(m.clone());
        crate::certs::spawn(agent.clone(), m.clone(), shutdown.clone());
        tasks = register_install(tasks, agent, &m);
        certs = Some(m);
    }
    tasks = register_scale(tasks, agent, policy, nginx.clone());
    crate::tasks::spawn(agent.clone(), tasks, shutdown.clone());
    let checks = Arc::new(crate::probes::checks::Runner::default());
    crate::probes::checks::spawn(agent.clone(), checks.clone(), shutdown.clone());
    crate::desired::spawn(
        agent.clone(),
        Converger::with_parts(nginx, Some(checks), certs),
        shutdown.clone(),
    );
}

/// Uploaded certificates are installed through the host's nginx, so only
/// an agent that runs it has the kind.
fn register_install(r: Registry, agent: &Arc<Agent>, m: &Arc<crate::certs::Manager>) -> Registry {
    use dozor_common::certs::InstallCertificate;
    use dozor_common::tasks::TaskError;
    let (agent, m) = (agent.clone(), m.clone());
    r.register::<InstallCertificate, _, _>(move |req| {
        let (agent, m) = (agent.clone(), m.clone());
        async move {
            m.install(
                &agent,
                &req.service,
                &req.domains,
                &req.chain_pem,
                &req.key_pem,
            )
            .await
            .map_err(TaskError::Invalid)
        }
    })
}

/// Replicas for autoscaling: nginx (when this host runs it) drains a
/// replica before it is removed.
fn register_scale(
    r: Registry,
    agent: &Arc<Agent>,
    policy: Policy,
    nginx: Option<Arc<crate::nginx::Controller>>,
) -> Registry {
    use dozor_common::autoscale::ScaleService;
    let agent = agent.clone();
    r.register::<ScaleService, _, _>(move |req| {
        let (agent, nginx) = (agent.clone(), nginx.clone());
        async move {
            let docker = crate::docker::connect()
                .await
                .map_err(dozor_common::tasks::TaskError::Failed)?;
            let drain = |name: String| {
                let (agent, nginx) = (agent.clone(), nginx.clone());
                async move {
                    if let Some(n) = nginx {
                        if let Err(e) = n.drain(&agent, &name).await {
                            tracing::warn!(container = %name, error = %e, "nginx did not drop the replica");
                        }
                    }
                }
            };
            crate::docker::replicas::scale(&docker, &req, policy, drain).await
        }
    })
}
