//! The embedded local collector: the same agent loop as `dozor-collector`,
//! with a sink that calls the ingest path directly instead of HTTP.

use crate::auth;
use crate::config::Config;
use crate::ingest::{Ingest, IngestError};
use crate::storage::{AgentRecord, CreateAgent, NewAgent};
use async_trait::async_trait;
use dozor_collector::agent::{Agent, AgentConfig};
use dozor_collector::proc::HostInput;
use dozor_collector::sink::{SendError, Sink};
use dozor_common::containers::TaskBatch;
use dozor_common::protocol::{HeartbeatRequest, HeartbeatResponse, TaskResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct LocalSink {
    ingest: Ingest,
    clock: crate::clock::Clock,
    name: String,
}

fn retry(message: String) -> SendError {
    SendError::Retry {
        message,
        after: None,
    }
}

impl LocalSink {
    /// Looked up each time so `agents revoke` applies to this agent too.
    async fn agent(&self) -> Result<AgentRecord, SendError> {
        match self.ingest.store.agent_by_name(&self.name).await {
            Ok(Some(a)) if a.revoked_ms.is_none() => Ok(a),
            Ok(_) => Err(SendError::Unauthorized(format!(
                "local agent {:?} is revoked",
                self.name
            ))),
            Err(e) => Err(retry(e.to_string())),
        }
    }
}

#[async_trait]
impl Sink for LocalSink {
    async fn send(&self, req: HeartbeatRequest) -> Result<HeartbeatResponse, SendError> {
        let agent = self.agent().await?;
        self.ingest
            .heartbeat(&agent, req, self.clock.now_ms())
            .await
            .map_err(|e| match e {
                IngestError::BadRequest { message, .. }
                | IngestError::Forbidden { message, .. } => SendError::Rejected(message),
                IngestError::TooLarge(m) | IngestError::TooManySeries(m) => SendError::Rejected(m),
                IngestError::Unavailable(m) | IngestError::Internal(m) => retry(m),
            })
    }

    async fn fetch_desired(&self) -> Result<dozor_common::desired::DesiredState, SendError> {
        let agent = self.agent().await?;
        crate::desired::document(&self.ingest.store, &agent, self.clock.now_ms())
            .await
            .map_err(|e| retry(e.to_string()))
    }

    async fn poll_tasks(&self, wait: Duration) -> Option<Result<TaskBatch, SendError>> {
        let agent = match self.agent().await {
            Ok(a) => a,
            Err(e) => return Some(Err(e)),
        };
        let i = &self.ingest;
        Some(
            crate::desired::poll(&i.tasks, &i.store, agent.id, wait)
                .await
                .map_err(|e| retry(e.to_string())),
        )
    }

    async fn send_result(&self, result: &TaskResult) -> Result<(), SendError> {
        let agent = self.agent().await?;
        let i = &self.ingest;
        i.tasks
            .finish(&i.store, agent.id, result)
            .await
            .map(|_| ())
            .map_err(|e| retry(e.to_string()))
    }
}

/// Finds or creates the local agent. Its key is random and never shown:
/// nothing outside this process can use it.
async fn local_agent(ingest: &Ingest, hostname: &str) -> anyhow::Result<Option<AgentRecord>> {
    for name in [hostname.to_string(), format!("{hostname}-server")] {
        match ingest.store.agent_by_name(&name).await? {
            Some(a) if a.kind == "local" && a.revoked_ms.is_none() => return Ok(Some(a)),
            Some(a) if a.kind == "local" => {
                tracing::warn!(agent = %name, "the local agent is revoked; the built-in collector stays off");
                return Ok(None);
            }
            // A remote collector already reports under this name.
            Some(_) => continue,
            None => {
                let new = NewAgent {
                    name: name.clone(),
                    key_hash: auth::hash_secret(&auth::generate(auth::AGENT_KEY_PREFIX)),
                    kind: "local".into(),
                    inventory: None,
                };
                if let CreateAgent::Created(_) = ingest
                    .store
                    .create_agent(&new, crate::clock::system_ms())
                    .await?
                {
                    return Ok(ingest.store.agent_by_name(&name).await?);
                }
            }
        }
    }
    anyhow::bail!("agents named {hostname:?} and {hostname:?}-server are both enrolled remotely")
}

pub async fn start(
    cfg: &Config,
    ingest: Ingest,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let input = HostInput::new(&cfg.local_collector_root);
    anyhow::ensure!(
        input.proc_path("stat").exists(),
        "{} not found; set --local-collector-root or --no-local-collector",
        input.proc_path("stat").display()
    );
    let mut hostname = dozor_collector::inventory::read(&cfg.local_collector_root).hostname;
    if hostname.is_empty() {
        hostname = hostname::get()?.to_string_lossy().into_owned();
    }
    let Some(agent) = local_agent(&ingest, &hostname).await? else {
        return Ok(None);
    };
    tracing::info!(agent = %agent.name, root = %cfg.local_collector_root.display(), interval = ?cfg.local_collector_interval, "built-in collector running");
    let sink = Arc::new(LocalSink {
        clock: cfg.clock.clone(),
        ingest,
        name: agent.name,
    });
    let agent = Agent::new(
        input,
        sink,
        AgentConfig {
            interval: cfg.local_collector_interval,
            ..AgentConfig::default()
        },
    );
    // This host's containers too, when the server can read Docker.
    dozor_collector::docker::spawn(
        agent.clone(),
        cfg.local_collector_interval,
        dozor_collector::docker::actions::Policy::Labelled,
        shutdown.clone(),
    );
    // Logs on demand, and start/stop/restart of containers labelled
    // dozor.actions=true, like a remote collector's default.
    let nginx = dozor_collector::nginx::Controller::new(&cfg.local_nginx)
        .await
        .map_err(|e| anyhow::anyhow!("--local-nginx: {e}"))?;
    dozor_collector::actors::spawn_with_nginx(
        &agent,
        dozor_collector::docker::actions::Policy::Labelled,
        nginx,
        &shutdown,
    );
    // Targets the server defines for this host (the Targets page) and
    // containers labelled dozor.scrape=true, as a remote collector does by
    // default.
    dozor_collector::scrape::spawn(
        Vec::new(),
        true,
        Duration::from_secs(15),
        cfg.local_collector_interval,
        agent.clone(),
        shutdown.clone(),
    );
    Ok(Some(tokio::spawn(agent.run(shutdown))))
}
