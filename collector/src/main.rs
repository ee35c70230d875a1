//! `dozor-collector`: enrol once, then push host metrics on an interval.

use anyhow::Context;
use clap::Parser;
use dozor_collector::agent::{Agent, AgentConfig, Backoff};
use dozor_collector::docker::actions::Policy;
use dozor_collector::http::ServerClient;
use dozor_collector::proc::{filters, Filters, HostInput};
use dozor_collector::state::{self, AgentState};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Collects this host's metrics and pushes them to a dozor server.
// No Debug: the enrolment token must never be printed.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// Base URL of the dozor server, e.g. http://monitor.example:8080
    #[arg(long, env = "DOZOR_SERVER")]
    server: String,
    /// Enrolment token from the server's DATA_DIR/enroll-token; needed only
    /// until the agent key is saved in the state dir.
    #[arg(long, env = "DOZOR_ENROLL_TOKEN", hide_env_values = true)]
    enroll_token: Option<String>,
    /// Read the enrolment token from this file instead, waiting for it to
    /// appear (e.g. the server's data volume mounted read-only).
    #[arg(long, env = "DOZOR_ENROLL_TOKEN_FILE", conflicts_with = "enroll_token")]
    enroll_token_file: Option<PathBuf>,
    /// Directory holding the host's `proc` and `sys` (use /host in a
    /// container started with -v /:/host:ro).
    #[arg(long, env = "DOZOR_ROOT", default_value = "/")]
    root: PathBuf,
    /// Network devices to leave out, a regular expression (node_exporter's
    /// --collector.netdev.device-exclude); empty keeps every device, as
    /// upstream node_exporter does (Debian's leaves out "^lo$").
    #[arg(long, env = "DOZOR_NETDEV_DEVICE_EXCLUDE", default_value = "")]
    netdev_device_exclude: String,
    /// Block devices to leave out, a regular expression; the default
    /// (node_exporter's) leaves out partitions, loop, ram and zram devices.
    #[arg(long, env = "DOZOR_DISKSTATS_DEVICE_EXCLUDE", default_value = filters::DISKSTATS_DEVICE_EXCLUDE)]
    diskstats_device_exclude: String,
    /// Mount points to leave out, a regular expression (node_exporter's
    /// default: kernel and container-internal mounts).
    #[arg(long, env = "DOZOR_FILESYSTEM_MOUNT_POINTS_EXCLUDE", default_value = filters::MOUNT_POINTS_EXCLUDE)]
    filesystem_mount_points_exclude: String,
    /// Filesystem types to leave out, a regular expression (node_exporter's
    /// default: pseudo and image filesystems).
    #[arg(long, env = "DOZOR_FILESYSTEM_FS_TYPES_EXCLUDE", default_value = filters::FS_TYPES_EXCLUDE)]
    filesystem_fs_types_exclude: String,
    /// A directory of `*.prom` files (node_exporter's textfile collector:
    /// metrics written by cron jobs and scripts) read with every pass.
    #[arg(long, env = "DOZOR_TEXTFILE_DIRECTORY")]
    textfile_directory: Option<PathBuf>,
    /// Where the agent key is kept (agent.json, mode 0600).
    #[arg(
        long,
        env = "DOZOR_STATE_DIR",
        default_value = "/var/lib/dozor-collector"
    )]
    state_dir: PathBuf,
    /// How often to collect and push, e.g. 10s, 1m.
    #[arg(long, env = "DOZOR_INTERVAL", default_value = "10s", value_parser = parse_interval)]
    interval: Duration,
    /// Agent name, which becomes the `host` label (default: the host's hostname).
    #[arg(long, env = "DOZOR_NAME")]
    name: Option<String>,
    /// Most samples kept in memory while the server is unreachable.
    #[arg(long, env = "DOZOR_MAX_QUEUED_SAMPLES", default_value_t = 1_000_000)]
    max_queued_samples: usize,
    /// Scrape a /metrics endpoint: JOB=URL, e.g.
    /// api=http://127.0.0.1:9000/metrics (repeatable; every --interval).
    #[arg(long = "scrape", value_name = "JOB=URL")]
    scrape: Vec<String>,
    /// Scrape targets from a TOML file of [[target]] tables (job, url,
    /// interval, timeout, format = "prometheus"|"json", labels,
    /// honor_labels, sample_limit, body_limit, json_prefix,
    /// json_label_keys).
    #[arg(long, env = "DOZOR_SCRAPE_CONFIG", value_name = "FILE")]
    scrape_config: Option<PathBuf>,
    /// Scrape containers labelled dozor.scrape=true (Docker socket or
    /// DOCKER_HOST; read only). Without Docker this logs once and waits.
    #[arg(long, env = "DOZOR_DOCKER_DISCOVERY", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    docker_discovery: bool,
    /// Report every container's state and, for running ones, CPU, memory,
    /// network, block IO and pids (Docker socket or DOCKER_HOST; read only).
    #[arg(long, env = "DOZOR_DOCKER_METRICS", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    docker_metrics: bool,
    /// Serve host and scraped metrics at http://ADDR/metrics for a plain
    /// Prometheus, e.g. 127.0.0.1:9101 (off by default).
    #[arg(long, env = "DOZOR_LISTEN", value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Which containers the server may start, stop and restart: those
    /// labelled dozor.actions=true (default), all, or none. Logs can be
    /// read from every container either way.
    #[arg(long, env = "DOZOR_CONTAINER_ACTIONS", value_enum, default_value_t = Policy::Labelled)]
    container_actions: Policy,
    #[command(flatten)]
    nginx: dozor_collector::nginx::args::NginxArgs,
}

/// Every target from the flags and the file, checked before anything starts.
fn scrape_targets(args: &Args) -> anyhow::Result<Vec<dozor_collector::scrape::Target>> {
    use dozor_collector::scrape::target;
    let mut out = Vec::new();
    for s in &args.scrape {
        out.push(target::from_flag(s, args.interval).map_err(anyhow::Error::msg)?);
    }
    if let Some(path) = &args.scrape_config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the scrape config {}", path.display()))?;
        let file = target::parse_file(&text, args.interval)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        out.extend(file);
    }
    Ok(out)
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = dozor_common::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err("interval must be at least 1s".into());
    }
    Ok(d)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let filters = Filters::new(
        &args.netdev_device_exclude,
        &args.diskstats_device_exclude,
        &args.filesystem_mount_points_exclude,
        &args.filesystem_fs_types_exclude,
    )
    .map_err(anyhow::Error::msg)?;
    let mut input = HostInput::new(&args.root).with_filters(filters);
    if let Some(dir) = &args.textfile_directory {
        input = input.with_textfile_dir(dir);
    }
    if !input.proc_path("stat").exists() {
        anyhow::bail!(
            "{} does not exist: --root must point at a directory holding the host's proc and sys",
            input.proc_path("stat").display()
        );
    }
    let targets = scrape_targets(&args)?;
    let client = ServerClient::new(&args.server).context("cannot build HTTP client")?;
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());

    let state = match state::load(&args.state_dir)? {
        Some(st) => {
            tracing::info!(agent = %st.name, id = st.agent_id, state = %state::state_file(&args.state_dir).display(), "using saved agent key");
            st
        }
        None => {
            let token = match (&args.enroll_token, &args.enroll_token_file) {
                (Some(t), _) => t.trim().to_string(),
                (None, Some(path)) => match wait_for_file(path, &shutdown).await {
                    Some(t) => t,
                    None => return Ok(()),
                },
                (None, None) => anyhow::bail!(
                    "no agent key in {} and no --enroll-token given; pass the token from the server's DATA_DIR/enroll-token",
                    args.state_dir.display()
                ),
            };
            let token = token.as_str();
            let name = match &args.name {
                Some(n) => n.clone(),
                None => dozor_collector::inventory::read(&args.root).hostname,
            };
            let name = if name.is_empty() {
                hostname::get()?.to_string_lossy().into_owned()
            } else {
                name
            };
            match enroll(&client, token, &name, &args, &shutdown).await? {
                Some(st) => st,
                None => return Ok(()),
            }
        }
    };
    tracing::info!(server = %client.base(), agent = %state.name, interval = ?args.interval, root = %args.root.display(), "pushing host metrics");
    let cfg = AgentConfig {
        interval: args.interval,
        max_queued_samples: args.max_queued_samples,
        ..AgentConfig::default()
    };
    let agent = Agent::new(input, Arc::new(client.sink(&state.agent_key)), cfg);
    if let Some(addr) = args.listen {
        let latest = dozor_collector::exposition::Shared::default();
        agent.expose(latest.clone());
        let bound = dozor_collector::exposition::serve(addr, latest, shutdown.clone())
            .await
            .with_context(|| format!("cannot listen on {addr} (--listen)"))?;
        tracing::info!(%bound, "serving /metrics");
    }
    if args.docker_metrics {
        dozor_collector::docker::spawn(
            agent.clone(),
            args.interval,
            args.container_actions,
            shutdown.clone(),
        );
    }
    let mut nginx_options = args.nginx.options();
    // The server's own addresses, as this host reaches it, are never
    // blocked here (probes and the server's checks come from them).
    nginx_options.never_block = server_addresses(&args.server).await;
    let nginx = dozor_collector::nginx::Controller::new(&nginx_options)
        .await
        .map_err(|e| anyhow::anyhow!("--nginx: {e}"))?;
    if nginx.is_some() && !args.docker_metrics {
        tracing::warn!("--nginx without --docker-metrics: upstreams cannot follow containers (static addresses still work)");
    }
    dozor_collector::actors::spawn_with_nginx(&agent, args.container_actions, nginx, &shutdown);
    // Always: the server may define targets for this host at any time.
    {
        tracing::info!(
            static_targets = targets.len(),
            docker = args.docker_discovery,
            "scraping"
        );
        dozor_collector::scrape::spawn(
            targets,
            args.docker_discovery,
            Duration::from_secs(15),
            args.interval,
            agent.clone(),
            shutdown.clone(),
        );
    }
    agent.run(shutdown).await;
    tracing::info!("stopped");
    Ok(())
}

/// Enrols, retrying: quickly while the server is unreachable, slowly (and
/// saying why each time) when the token is refused, so a container restart
/// policy never turns a bad token into a crash loop.
async fn enroll(
    client: &ServerClient,
    token: &str,
    name: &str,
    args: &Args,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<AgentState>> {
    let mut backoff = Backoff::new();
    loop {
        let inventory = dozor_collector::inventory::read(&args.root);
        let wait = match client.enroll(token, name, inventory).await {
            Ok(resp) => {
                let st = AgentState {
                    server: client.base().to_string(),
                    agent_id: resp.agent_id,
                    name: resp.name,
                    agent_key: resp.agent_key,
                };
                state::save(&args.state_dir, &st)?;
                tracing::info!(agent = %st.name, id = st.agent_id, state = %state::state_file(&args.state_dir).display(), "enrolled; agent key saved");
                return Ok(Some(st));
            }
            Err(e) if e.is_transient() => {
                let d = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?d, "enrolment failed; will retry");
                d
            }
            Err(e) => {
                tracing::error!(error = %e, "enrolment refused; retrying in 5 minutes");
                Duration::from_secs(300)
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Waits until `path` holds a token; None on shutdown.
async fn wait_for_file(path: &std::path::Path, shutdown: &CancellationToken) -> Option<String> {
    let mut warned = false;
    loop {
        match std::fs::read_to_string(path) {
            Ok(t) if !t.trim().is_empty() => return Some(t.trim().to_string()),
            Ok(_) | Err(_) if !warned => {
                tracing::info!(path = %path.display(), "waiting for the enrolment token file");
                warned = true;
            }
            _ => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

fn spawn_signal_handler(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down: flushing queued samples");
        token.cancel();
    });
}

/// The addresses `--server`'s host resolves to (none when it does not).
async fn server_addresses(server: &str) -> Vec<dozor_common::cidr::Cidr> {
    let Ok(url) = reqwest::Url::parse(server) else {
        return Vec::new();
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Vec::new();
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let looked = tokio::net::lookup_host((host.clone(), port)).await;
    match looked {
        Ok(addrs) => {
            let mut v: Vec<_> = addrs
                .map(|a| dozor_common::cidr::Cidr::host(a.ip()))
                .collect();
            v.sort();
            v.dedup();
            v
        }
        Err(e) => {
            tracing::warn!(error = %e, %host, "cannot resolve the server's address; it is not exempt from blocking here");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod server_address_tests {
    use super::server_addresses;

    #[tokio::test]
    async fn the_server_url_resolves_to_its_addresses() {
        let one = |s: &str| vec![s.parse::<dozor_common::cidr::Cidr>().unwrap()];
        assert_eq!(
            server_addresses("http://127.0.0.1:8080").await,
            one("127.0.0.1")
        );
        assert_eq!(server_addresses("https://[::1]/dozor").await, one("::1"));
        assert!(server_addresses("not a url").await.is_empty());
    }
}
