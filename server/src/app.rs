//! Server startup: open storage, make sure an enrolment token exists, start
//! the HTTP listener, housekeeping, and the embedded local collector.

use crate::config::Config;
use crate::http::{self, AppState};
use crate::ingest::Ingest;
use crate::storage::{self, OpenOptions, Store};
use crate::telemetry::Telemetry;
use crate::{auth, local, maintenance};
use anyhow::Context;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Server {
    pub addr: SocketAddr,
    pub remote_write_token_path: PathBuf,
    pub store: Store,
    pub enroll_token_path: PathBuf,
    pub telemetry: Arc<Telemetry>,
    /// The one-time URL that creates the first admin, while none exists.
    pub setup_url: Option<String>,
    /// Queues tasks for agents and wakes their long-polls.
    pub task_hub: crate::tasks::Hub,
    /// Every route's path template, as the router registered them.
    pub routes: Vec<&'static str>,
    /// The operations the handlers call (tests act through them too).
    pub ops: crate::ops::Ops,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

pub async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    ensure_private_dir(&cfg.data_dir)?;
    let opts = OpenOptions {
        acquire_timeout: cfg.acquire_timeout,
        password: cfg.database_password.clone(),
        ..OpenOptions::default()
    };
    let store = storage::open(&cfg.store_url(), &opts).await?;
    Ok(store)
}

fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data dir {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

impl Server {
    pub async fn start(cfg: Config) -> anyhow::Result<Self> {
        let store = open_store(&cfg).await?;
        // Only here, in the serving process: admin commands open the store
        // with their own (default) --retention and must not apply it.
        store
            .set_retention(cfg.retention.as_millis() as i64)
            .await
            .context("cannot apply --retention")?;
        tracing::info!(store = %store.describe(), retention = %dozor_common::format_duration(cfg.retention), "storage ready");
        let enroll_token_path = ensure_enroll_token(&store, &cfg.data_dir).await?;
        tracing::info!(path = %enroll_token_path.display(), "agent enrolment token: pass its contents to dozor-collector --enroll-token");
        store.prepare(crate::clock::system_ms()).await?;

        let telemetry = Arc::new(Telemetry::default());
        let ingest = Ingest {
            store: store.clone(),
            telemetry: telemetry.clone(),
            retention_ms: cfg.retention.as_millis() as i64,
            limits: cfg.limits.clone(),
            series_limiter: Default::default(),
            tasks: Arc::new(crate::tasks::TaskHub::with_clock(cfg.clock.clone())),
            seen: Default::default(),
            ops: Default::default(),
        };
        let (write_token_path, write_hash) = remote_write_token(&cfg)?;
        tracing::info!(path = %write_token_path.display(), "remote_write token: Prometheus sends it as the bearer token to /prometheus/api/v1/write");
        let keys =
            crate::auth::session::Keys::load_or_create(&cfg.data_dir).with_context(|| {
                format!(
                    "cannot keep the session secret in {}",
                    cfg.data_dir.display()
                )
            })?;
        let setup_token = if store.user_count().await? == 0 {
            Some(auth::generate("dzs_"))
        } else {
            None
        };
        let ops = crate::ops::Ops::new(
            store.clone(),
            cfg.clock.clone(),
            ingest.tasks.clone(),
            ingest.series_limiter.clone(),
        );
        let _ = ingest.ops.set(ops.clone());
        let alerting = crate::alerting::service::load(&cfg, &store, &ops).await?;
        let state = AppState::new(
            ops.clone(),
            ingest.clone(),
            &cfg.rate_limits,
            Some(write_hash),
        )
        .with_alerting(alerting.alerting.clone(), Some(alerting.telegram.clone()))
        .with_ui(ui_state(&cfg))
        .with_auth(http::authn::AuthState::new(keys, setup_token.clone()).configured(&cfg));
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}; set --listen or DOZOR_LISTEN",
                    cfg.listen
                )
            })?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let hub = ingest.tasks.clone();
        {
            // Long-polls end at once, or graceful shutdown would wait them out.
            let (hub, stop) = (ingest.tasks.clone(), shutdown.clone());
            tokio::spawn(async move {
                stop.cancelled().await;
                hub.close();
            });
        }
        let mut tasks = Vec::new();

        {
            // Rate limiters forget addresses, agents and users back to a
            // full quota, so their memory follows current traffic.
            let (state, stop) = (state.clone(), shutdown.clone());
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => state.forget_idle_limits(),
                    }
                }
            }));
        }
        if let Some(every) = cfg.self_metrics_interval {
            tasks.push(tokio::spawn(crate::self_metrics::run(
                ingest.clone(),
                state.0.engine.clone(),
                cfg.clock.clone(),
                every,
                addr.to_string(),
                shutdown.clone(),
            )));
        }
        // The autoscaler shares the pages' view of its decisions.
        let (scaler, scaler_ops, scaler_engine) = (
            state.0.autoscaler.clone(),
            state.0.ops.clone(),
            state.0.engine.clone(),
        );
        let paths = http::Paths::default();
        let app = http::router_with_paths(state, &paths)
            .into_make_service_with_connect_info::<SocketAddr>();
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server failed");
            }
        }));
        tasks.extend(crate::alerting::service::spawn(&alerting, &shutdown));
        if let Some(every) = cfg.autoscale_interval {
            tasks.push(tokio::spawn(crate::autoscale::run(
                scaler,
                scaler_ops,
                ingest.clone(),
                scaler_engine,
                cfg.clock.clone(),
                every,
                shutdown.clone(),
            )));
        }
        tasks.push(tokio::spawn(maintenance::run(
            store.clone(),
            telemetry.clone(),
            cfg.retention,
            cfg.clock.clone(),
            shutdown.clone(),
        )));
        if cfg.local_collector {
            match local::start(&cfg, ingest, shutdown.clone()).await {
                Ok(Some(task)) => tasks.push(task),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %format!("{e:#}"), "local collector not started"),
            }
        }
        tracing::info!(%addr, "dozor listening: open http://{addr}/");
        let setup_url = setup_token.map(|t| format!("http://{addr}/setup?token={t}"));
        if let Some(u) = &setup_url {
            // The one secret dozor prints, on purpose: it is the only way to
            // create the first admin, and it stops working once used.
            tracing::warn!("no admin yet; create one at {u}");
        }
        Ok(Self {
            routes: paths.list(),
            ops,
            setup_url,
            task_hub: hub,
            addr,
            remote_write_token_path: write_token_path,
            store,
            enroll_token_path,
            telemetry,
            shutdown,
            tasks,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, lets the local collector flush, and waits.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Reuses the token in `DATA_DIR/enroll-token` while it is valid; otherwise
/// creates one, stores its hash and writes the file (0600).
pub async fn ensure_enroll_token(store: &Store, data_dir: &Path) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("enroll-token");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if store
            .enroll_token_valid(&auth::hash_secret(&existing), crate::clock::system_ms())
            .await?
        {
            return Ok(path);
        }
    }
    new_enroll_token(store, data_dir).await
}

pub async fn new_enroll_token(store: &Store, data_dir: &Path) -> anyhow::Result<PathBuf> {
    let token = auth::generate(auth::ENROLL_TOKEN_PREFIX);
    store
        .create_enroll_token(&auth::hash_secret(&token), crate::clock::system_ms())
        .await?;
    write_enroll_token(data_dir, &token)
}

/// Writes the enrolment token file (0600) collectors on this machine read.
pub fn write_enroll_token(data_dir: &Path, token: &str) -> anyhow::Result<PathBuf> {
    ensure_private_dir(data_dir)?;
    let path = data_dir.join("enroll-token");
    dozor_collector::state::write_private(
        data_dir,
        "enroll-token",
        format!("{token}\n").as_bytes(),
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The remote_write token: read from the configured file, or generated into
/// DATA_DIR/remote-write-token (0600) on first start. Only its hash is kept.
pub fn remote_write_token(cfg: &Config) -> anyhow::Result<(PathBuf, String)> {
    let path = cfg
        .remote_write_token_file
        .clone()
        .unwrap_or_else(|| cfg.data_dir.join("remote-write-token"));
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => Ok((path, auth::hash_secret(&t))),
        Ok(_) => anyhow::bail!(
            "{} is empty; put a token in it or delete it to have one generated",
            path.display()
        ),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && cfg.remote_write_token_file.is_none() =>
        {
            let token = auth::generate("dzw_");
            dozor_collector::state::write_private(
                &cfg.data_dir,
                "remote-write-token",
                format!("{token}\n").as_bytes(),
            )
            .with_context(|| format!("cannot write {}", path.display()))?;
            Ok((path, auth::hash_secret(&token)))
        }
        Err(e) => Err(e)
            .with_context(|| format!("cannot read remote_write token file {}", path.display())),
    }
}

/// Dashboards (built-in plus `--dashboards-dir`); a bad file is logged
/// with its name and field and skipped, never fatal.
fn ui_state(cfg: &Config) -> http::ui::UiState {
    let (dashboards, errors) = dozor_ui::dashboards::load_all(cfg.dashboards_dir.as_deref());
    for e in &errors {
        tracing::error!(file = %e.file, error = %e.message, "dashboard skipped");
    }
    // A query must parse once its variables are filled in.
    for d in &dashboards {
        let vars: Vec<(String, String)> = d
            .variables
            .iter()
            .map(|v| (v.name.clone(), "x".to_string()))
            .collect();
        for (r, row) in d.rows.iter().enumerate() {
            for (p, panel) in row.panels.iter().enumerate() {
                for q in &panel.queries {
                    let expr = dozor_ui::dashboards::substitute(&q.expr, &vars, 60_000, 10_000);
                    if let Err(e) = crate::promql::parse(&expr) {
                        tracing::error!(dashboard = %d.slug, panel = %format!("rows[{r}].panels[{p}]"), error = %e, "dashboard query does not parse");
                    }
                }
            }
        }
    }
    tracing::info!(count = dashboards.len(), "dashboards loaded");
    http::ui::UiState {
        dashboards,
        scrape_ms: cfg.local_collector_interval.as_millis() as i64,
        ..Default::default()
    }
}

/// The operations for an admin command: the store it opened, the system
/// clock, and no agents to talk to.
pub fn cli_ops(store: &Store) -> crate::ops::Ops {
    crate::ops::Ops::new(
        store.clone(),
        crate::clock::Clock::system(),
        Default::default(),
        Default::default(),
    )
}

/// Creates an API token for `username` (scope capped by their role) from
/// the command line and returns the secret, which is not stored.
pub async fn mint_api_token(
    store: &Store,
    username: &str,
    name: &str,
    scope: storage::Scope,
    expires: Option<std::time::Duration>,
) -> anyhow::Result<String> {
    let ops = cli_ops(store);
    let actor = crate::ops::Actor::cli();
    Ok(crate::ops::tokens::create(&ops, &actor, username, name, scope, expires).await?)
}
