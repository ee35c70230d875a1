//! A collector agent enrolled with a test server, pushing the fixture
//! host (checked-in /proc files) and whatever else is enqueued.

use super::{enroll_token, fixture_root};
use dozor_collector::agent::{Agent, AgentConfig};
use dozor_collector::http::ServerClient;
use dozor_collector::proc::HostInput;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Enrols `name` and runs its agent loop, task runner and desired-state
/// converger until the token is cancelled.
pub async fn start_agent(
    server: &dozor_server::Server,
    name: &str,
    interval: Duration,
) -> (Arc<Agent>, CancellationToken) {
    start_agent_at(server, name, interval, &fixture_root()).await
}

/// As `start_agent`, reading the host from `root` (a copy a test changes).
pub async fn start_agent_at(
    server: &dozor_server::Server,
    name: &str,
    interval: Duration,
    root: &std::path::Path,
) -> (Arc<Agent>, CancellationToken) {
    let client = ServerClient::new(&server.url()).unwrap();
    let resp = client
        .enroll(
            &enroll_token(server),
            name,
            dozor_collector::inventory::read(root),
        )
        .await
        .unwrap();
    let input = HostInput::new(root).with_ticks_per_second(100);
    let cfg = AgentConfig {
        interval,
        ..AgentConfig::default()
    };
    let agent = Agent::new(input, Arc::new(client.sink(&resp.agent_key)), cfg);
    let stop = CancellationToken::new();
    dozor_collector::actors::spawn(
        &agent,
        dozor_collector::docker::actions::Policy::Labelled,
        &stop,
    );
    tokio::spawn(agent.clone().run(stop.clone()));
    (agent, stop)
}
