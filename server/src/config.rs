//! Configuration: flags beat environment variables beat `dozor.toml`,
//! which beats the defaults.

use crate::ingest::Limits;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod args;
mod nginx_args;
pub use args::*;

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub database_password: Option<String>,
    /// None: DATA_DIR/remote-write-token.
    pub remote_write_token_file: Option<PathBuf>,
    pub retention: Duration,
    pub local_collector: bool,
    pub local_collector_root: PathBuf,
    pub local_collector_interval: Duration,
    /// How the built-in collector runs this host's nginx.
    pub local_nginx: dozor_collector::nginx::Options,
    pub limits: Limits,
    pub rate_limits: RateLimits,
    pub acquire_timeout: Duration,
    pub dashboards_dir: Option<PathBuf>,
    pub session_idle: Duration,
    pub session_max: Duration,
    /// False: /metrics needs a read token or a session.
    pub metrics_public: bool,
    /// Sessions and API tokens read time here (tests inject a manual clock).
    pub clock: crate::clock::Clock,
    pub alerting: crate::alerting::AlertingConfig,
    /// How often the server stores its own metrics; None: never.
    pub self_metrics_interval: Option<Duration>,
    /// How often autoscale policies are evaluated; None: never.
    pub autoscale_interval: Option<Duration>,
}

/// A loop's interval: `off` (None), at least a second, or the default.
fn every(what: &str, v: Option<&str>, default_s: u64) -> anyhow::Result<Option<Duration>> {
    Ok(match v {
        Some("off") => None,
        Some(i) => {
            let d = duration(what, i)?;
            anyhow::ensure!(
                d >= Duration::from_secs(1),
                "{what} must be at least 1s (or off)"
            );
            Some(d)
        }
        None => Some(Duration::from_secs(default_s)),
    })
}

/// The password in a database URL, hidden: `postgres://u:***@h/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Secrets redacted: the database password and any password in the URL.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field(
                "database_password",
                &self.database_password.as_ref().map(|_| "<redacted>"),
            )
            .field("retention", &self.retention)
            .field("local_collector", &self.local_collector)
            .field("metrics_public", &self.metrics_public)
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults for tests and embedding: SQLite in `data_dir`, port 0.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: "127.0.0.1:0".parse().expect("literal"),
            data_dir: data_dir.into(),
            database_url: None,
            database_password: None,
            remote_write_token_file: None,
            retention: Duration::from_secs(30 * 86_400),
            local_collector: true,
            local_collector_root: PathBuf::from("/"),
            local_collector_interval: Duration::from_secs(10),
            local_nginx: Default::default(),
            limits: Limits::default(),
            rate_limits: RateLimits::default(),
            acquire_timeout: Duration::from_secs(5),
            dashboards_dir: None,
            session_idle: Duration::from_secs(8 * 3600),
            session_max: Duration::from_secs(7 * 86_400),
            metrics_public: true,
            clock: crate::clock::Clock::system(),
            // Off here, on for the server (`resolve`): tests assert exact
            // sets of series, alerts and notifications, and turn these on
            // where they are what is tested.
            alerting: crate::alerting::AlertingConfig {
                builtin_rules: false,
                ..crate::alerting::AlertingConfig::defaults()
            },
            self_metrics_interval: None,
            autoscale_interval: None,
        }
    }

    /// The store URL: the configured one, or the SQLite file in the data dir.
    pub fn store_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => self.data_dir.join("dozor.db").display().to_string(),
        }
    }
}

fn duration(what: &str, s: &str) -> anyhow::Result<Duration> {
    dozor_common::parse_duration(s).with_context(|| format!("bad {what}"))
}

pub fn resolve(args: &ServerArgs) -> anyhow::Result<Config> {
    let file = match &args.config {
        Some(p) => load_file(p)?,
        None if Path::new("dozor.toml").exists() => load_file(Path::new("dozor.toml"))?,
        None => FileConfig::default(),
    };
    let mut cfg = Config::for_data_dir(
        args.data_dir
            .clone()
            .or(file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./dozor-data")),
    );
    cfg.listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("literal"));
    alerting(args, &file, &mut cfg)?;
    cfg.alerting.builtin_rules = !args.no_builtin_rules && file.builtin_rules.unwrap_or(true);
    cfg.self_metrics_interval = every(
        "self metrics interval",
        args.self_metrics_interval
            .as_deref()
            .or(file.self_metrics_interval.as_deref()),
        15,
    )?;
    cfg.autoscale_interval = every(
        "autoscale interval",
        args.autoscale_interval
            .as_deref()
            .or(file.autoscale_interval.as_deref()),
        10,
    )?;
    cfg.database_url = args
        .database_url
        .clone()
        .or(file.database_url)
        .filter(|u| !u.is_empty());
    if let Some(p) = args
        .database_password_file
        .clone()
        .or(file.database_password_file)
    {
        let pw = std::fs::read_to_string(&p)
            .with_context(|| format!("cannot read database password file {}", p.display()))?;
        cfg.database_password = Some(pw.trim_end_matches(['\n', '\r']).to_string());
    }
    cfg.remote_write_token_file = args
        .remote_write_token_file
        .clone()
        .or(file.remote_write_token_file);
    if let Some(r) = args.retention.as_deref().or(file.retention.as_deref()) {
        cfg.retention = duration("retention", r)?;
        anyhow::ensure!(
            cfg.retention >= Duration::from_secs(3600),
            "retention must be at least 1h"
        );
    }
    cfg.local_collector = !args.no_local_collector && file.local_collector.unwrap_or(true);
    cfg.local_nginx = args.local_nginx.options().map_err(anyhow::Error::msg)?;
    if let Some(root) = args
        .local_collector_root
        .clone()
        .or(file.local_collector_root)
    {
        cfg.local_collector_root = root;
    }
    if let Some(i) = args
        .local_collector_interval
        .as_deref()
        .or(file.local_collector_interval.as_deref())
    {
        cfg.local_collector_interval = duration("local collector interval", i)?;
        anyhow::ensure!(
            cfg.local_collector_interval >= Duration::from_secs(1),
            "local collector interval must be at least 1s"
        );
    }
    cfg.dashboards_dir = args.dashboards_dir.clone().or(file.dashboards_dir);
    if let Some(d) = args
        .session_idle
        .as_deref()
        .or(file.session_idle.as_deref())
    {
        cfg.session_idle = duration("session idle timeout", d)?;
    }
    if let Some(d) = args.session_max.as_deref().or(file.session_max.as_deref()) {
        cfg.session_max = duration("session maximum age", d)?;
    }
    anyhow::ensure!(
        cfg.session_idle >= Duration::from_secs(60) && cfg.session_idle <= cfg.session_max,
        "session idle timeout must be at least 1m and at most the maximum age"
    );
    match args
        .metrics_auth
        .as_deref()
        .or(file.metrics_auth.as_deref())
    {
        None | Some("public") => cfg.metrics_public = true,
        Some("token") => cfg.metrics_public = false,
        Some(other) => anyhow::bail!("metrics_auth is `public` or `token`, not {other:?}"),
    }
    if let Some(n) = args.max_series_per_agent.or(file.max_series_per_agent) {
        anyhow::ensure!(n > 0, "max series per agent must be positive");
        cfg.limits.max_series_per_agent = n;
    }
    Ok(cfg)
}

fn alerting(args: &ServerArgs, file: &FileConfig, cfg: &mut Config) -> anyhow::Result<()> {
    let a = &mut cfg.alerting;
    a.rules_dir = args.rules_dir.clone().or(file.rules_dir.clone());
    a.telegram_token = match (
        &args.telegram_token,
        args.telegram_token_file
            .clone()
            .or(file.telegram_token_file.clone()),
    ) {
        (Some(t), _) => Some(t.trim().to_string()),
        (None, Some(p)) => Some(
            std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read Telegram token file {}", p.display()))?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    }
    .filter(|t| !t.is_empty());
    a.telegram_chats = if args.telegram_chats.is_empty() {
        file.telegram_chats.clone().unwrap_or_default()
    } else {
        args.telegram_chats.clone()
    };
    a.telegram_api_url = args
        .telegram_api_url
        .clone()
        .or(file.telegram_api_url.clone());
    a.webhooks = if args.webhook_urls.is_empty() {
        file.webhook_urls.clone().unwrap_or_default()
    } else {
        args.webhook_urls.clone()
    };
    for u in &a.webhooks {
        anyhow::ensure!(
            u.starts_with("http://") || u.starts_with("https://"),
            "webhook URL {u:?} must start with http:// or https://"
        );
    }
    if let Some(d) = args
        .alert_repeat_interval
        .as_deref()
        .or(file.alert_repeat_interval.as_deref())
    {
        a.repeat_interval = duration("alert repeat interval", d)?;
    }
    if let Some(d) = args
        .alert_group_wait
        .as_deref()
        .or(file.alert_group_wait.as_deref())
    {
        a.group_wait = duration("alert group wait", d)?;
    }
    if let Some(d) = args
        .alert_group_interval
        .as_deref()
        .or(file.alert_group_interval.as_deref())
    {
        a.group_interval = duration("alert group interval", d)?;
    }
    a.external_url = args
        .external_url
        .clone()
        .or(file.external_url.clone())
        .unwrap_or_else(|| format!("http://{}", cfg.listen))
        .trim_end_matches('/')
        .to_string();
    Ok(())
}

fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

/// Request rates the server allows, set from flags.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Heartbeats per second per agent, sustained.
    pub agent_per_second: u32,
    pub agent_burst: u32,
    /// Enrolment attempts per minute per client address.
    pub enroll_per_minute: u32,
    /// Sign-in attempts per minute per client address.
    pub login_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            agent_per_second: 20,
            agent_burst: 100,
            enroll_per_minute: 10,
            login_per_minute: 10,
        }
    }
}

#[cfg(test)]
mod tests;
