use anyhow::Context;
use clap::Parser;
use dozor_server::app::{self, Server};
use dozor_server::config::{
    self, AgentAction, ApiTokenAction, Cli, Command, RulesAction, TokenAction,
};
use dozor_server::ops::{agents, Actor};

/// Asks the local server's /healthz (or /readyz) once, within 3 s. A
/// wildcard listen address is asked on the loopback of its family.
async fn healthcheck(listen: Option<std::net::SocketAddr>, ready: bool) -> anyhow::Result<()> {
    let mut addr = listen.unwrap_or(([127, 0, 0, 1], 8080).into());
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{addr}/{}", if ready { "readyz" } else { "healthz" });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?;
    let resp = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "{url}: {status}: {}", body.trim());
    println!("{}", body.trim());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    if let Some(Command::Rules {
        action: RulesAction::Test { files },
    }) = &cli.command
    {
        return rules_test(files).await;
    }
    if let Some(Command::Healthcheck { ready }) = &cli.command {
        return healthcheck(cli.opts.listen, *ready).await;
    }
    let cfg = config::resolve(&cli.opts)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cfg).await,
        Command::EnrollToken { action } => {
            let store = app::open_store(&cfg).await?;
            let ops = app::cli_ops(&store);
            let n = agents::revoke_enroll_tokens(&ops, &Actor::cli()).await?;
            println!("revoked {n} enrolment token(s)");
            if let TokenAction::Rotate = action {
                let token =
                    agents::new_enroll_token(&ops, &Actor::cli(), Default::default()).await?;
                let path = app::write_enroll_token(&cfg.data_dir, &token)?;
                println!("new enrolment token written to {}", path.display());
            }
            Ok(())
        }
        Command::Agents { action } => {
            let store = app::open_store(&cfg).await?;
            match action {
                AgentAction::List => {
                    for a in store.list_agents().await? {
                        let status = if a.revoked_ms.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!("{}\t{}\t{}\t{status}", a.id, a.name, a.kind);
                    }
                }
                AgentAction::Revoke { name } => {
                    let ops = app::cli_ops(&store);
                    agents::revoke_agent(&ops, &Actor::cli(), &name).await?;
                    println!("revoked agent {name:?}");
                }
            }
            Ok(())
        }
        Command::ApiToken {
            action:
                ApiTokenAction::Create {
                    user,
                    name,
                    scope,
                    expires,
                },
        } => {
            let store = app::open_store(&cfg).await?;
            let scope = dozor_server::storage::Scope::parse(&scope).context("bad scope")?;
            let expires = match expires.as_str() {
                "never" => None,
                d => Some(dozor_common::parse_duration(d).context("bad --expires")?),
            };
            let token = app::mint_api_token(&store, &user, &name, scope, expires).await?;
            println!("{token}");
            Ok(())
        }
        Command::Rules { .. } | Command::Healthcheck { .. } => {
            unreachable!("handled before the configuration")
        }
    }
}

async fn rules_test(files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for f in files {
        let failures = dozor_server::alerting::unittest::run_file(f)
            .await
            .with_context(|| format!("cannot run {}", f.display()))?;
        if failures.is_empty() {
            println!("{}: SUCCESS", f.display());
        } else {
            println!("{}: FAILED", f.display());
            for x in &failures {
                println!("  {x}");
            }
            failed += failures.len();
        }
    }
    if failed > 0 {
        eprintln!("{failed} rule test(s) failed");
        std::process::exit(1);
    }
    Ok(())
}

async fn serve(cfg: dozor_server::Config) -> anyhow::Result<()> {
    let server = Server::start(cfg).await.context("cannot start dozor")?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
