//! The command line and `dozor.toml`: what can be set, with help text.
//! `config::resolve` turns them into a [`super::Config`].

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// dozor: self-hosted monitoring and alerting. Without a command, runs the server.
// No Debug on the argument types: they carry the database URL.
#[derive(Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub opts: ServerArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage the agent enrolment token.
    EnrollToken {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// List or revoke enrolled agents.
    Agents {
        #[command(subcommand)]
        action: AgentAction,
    },
    /// Check rule files with promtool-style unit tests.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Exit 0 when the server on --listen answers /healthz (or /readyz),
    /// 1 otherwise: a container HEALTHCHECK with no shell or curl.
    Healthcheck {
        /// Ask /readyz: storage must answer too.
        #[arg(long)]
        ready: bool,
    },
    /// Create API tokens from the shell (for provisioning Grafana or
    /// Prometheus); users create their own on the Account page.
    ApiToken {
        #[command(subcommand)]
        action: ApiTokenAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum RulesAction {
    /// Run unit tests (rule_files, input_series in `a+bxN` notation,
    /// alert_rule_test, promql_expr_test); exits 1 when any fails.
    Test {
        /// Test files (YAML, promtool's format).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApiTokenAction {
    /// Create a token owned by USER and print it once.
    Create {
        /// The owning user; the token never does more than their role allows.
        #[arg(long)]
        user: String,
        /// A label to recognise it by, e.g. grafana.
        #[arg(long)]
        name: String,
        /// read, write (also remote_write) or admin.
        #[arg(long, default_value = "read", value_parser = ["read", "write", "admin"])]
        scope: String,
        /// Lifetime such as 90d; `never` for none.
        #[arg(long, default_value = "90d")]
        expires: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Revoke every enrolment token and write a new one to DATA_DIR/enroll-token.
    Rotate,
    /// Revoke every enrolment token; no new agents can enrol until `rotate`.
    Revoke,
}

#[derive(Subcommand, Debug)]
pub enum AgentAction {
    /// Print enrolled agents.
    List,
    /// Revoke an agent's key; its collector gets 401 from then on.
    Revoke { name: String },
}

#[derive(Args, Default)]
pub struct ServerArgs {
    /// Config file [default: ./dozor.toml when it exists].
    #[arg(long, env = "DOZOR_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DOZOR_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite store and the enrolment token [default: ./dozor-data].
    #[arg(long, env = "DOZOR_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// postgres://user:pass@host/db selects PostgreSQL (TimescaleDB when available)
    /// [default: SQLite file DATA_DIR/dozor.db].
    #[arg(
        long,
        env = "DOZOR_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// File holding the PostgreSQL password, so it stays out of the URL,
    /// the environment and `ps` (e.g. a Docker secret).
    #[arg(long, env = "DOZOR_DATABASE_PASSWORD_FILE", global = true)]
    pub database_password_file: Option<PathBuf>,
    /// File holding the bearer token Prometheus remote_write must send
    /// [default: DATA_DIR/remote-write-token, generated on first start].
    #[arg(long, env = "DOZOR_REMOTE_WRITE_TOKEN_FILE", global = true)]
    pub remote_write_token_file: Option<PathBuf>,
    /// How long samples are kept, e.g. 30d, 12h [default: 30d].
    #[arg(long, env = "DOZOR_RETENTION", global = true)]
    pub retention: Option<String>,
    /// Do not run the built-in collector for this host.
    #[arg(long, env = "DOZOR_NO_LOCAL_COLLECTOR", global = true)]
    pub no_local_collector: bool,
    /// Root holding this host's proc and sys for the built-in collector [default: /].
    #[arg(long, env = "DOZOR_LOCAL_COLLECTOR_ROOT", global = true)]
    pub local_collector_root: Option<PathBuf>,
    /// Collection interval of the built-in collector [default: 10s].
    #[arg(long, env = "DOZOR_LOCAL_COLLECTOR_INTERVAL", global = true)]
    pub local_collector_interval: Option<String>,
    /// Directory of extra dashboard files (*.toml); they join the built-in
    /// ones in navigation, and one with a built-in's slug replaces it.
    #[arg(long, env = "DOZOR_DASHBOARDS_DIR", global = true)]
    pub dashboards_dir: Option<PathBuf>,
    /// Sign a session out after this long without a request [default: 8h].
    #[arg(long, env = "DOZOR_SESSION_IDLE", global = true)]
    pub session_idle: Option<String>,
    /// Sign a session out this long after sign-in, active or not [default: 7d].
    #[arg(long, env = "DOZOR_SESSION_MAX", global = true)]
    pub session_max: Option<String>,
    /// Who may read /metrics: `public` (like Prometheus) or `token` (a read
    /// API token or a session) [default: public].
    #[arg(long, env = "DOZOR_METRICS_AUTH", global = true, value_parser = ["public", "token"])]
    pub metrics_auth: Option<String>,
    /// Most distinct series one agent may create; beyond it, batches with
    /// new series get 422 [default: 10000].
    #[arg(long, env = "DOZOR_MAX_SERIES_PER_AGENT", global = true)]
    pub max_series_per_agent: Option<usize>,
    /// Directory of Prometheus-format rule files (*.yml, *.yaml) to evaluate.
    #[arg(long, env = "DOZOR_RULES_DIR", global = true)]
    pub rules_dir: Option<PathBuf>,
    /// Do not run the built-in alert rules (host down, disk, memory, CPU,
    /// clock, containers, targets, dozor's own health); changes made to
    /// them on the Rules page are kept for when they are back on.
    #[arg(long, env = "DOZOR_NO_BUILTIN_RULES", global = true)]
    pub no_builtin_rules: bool,
    /// How often the server stores its own metrics (those at /metrics) as
    /// series with job="dozor", which the built-in rules about dozor read;
    /// `off` stops it [default: 15s].
    #[arg(long, env = "DOZOR_SELF_METRICS_INTERVAL", global = true)]
    pub self_metrics_interval: Option<String>,
    /// How often autoscale policies are evaluated; `off` stops the
    /// autoscaler (manual scaling still works) [default: 10s].
    #[arg(long, env = "DOZOR_AUTOSCALE_INTERVAL", global = true)]
    pub autoscale_interval: Option<String>,
    /// Telegram bot token (prefer the environment or --telegram-token-file).
    #[arg(
        long,
        env = "DOZOR_TELEGRAM_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub telegram_token: Option<String>,
    /// File holding the Telegram bot token.
    #[arg(long, env = "DOZOR_TELEGRAM_TOKEN_FILE", global = true)]
    pub telegram_token_file: Option<PathBuf>,
    /// Telegram chat ids that receive alerts, comma-separated (groups are negative).
    #[arg(
        long,
        env = "DOZOR_TELEGRAM_CHATS",
        global = true,
        value_delimiter = ','
    )]
    pub telegram_chats: Vec<i64>,
    /// Bot API base URL [default: https://api.telegram.org].
    #[arg(long, env = "DOZOR_TELEGRAM_API_URL", global = true)]
    pub telegram_api_url: Option<String>,
    /// Alertmanager-compatible webhook receivers, comma-separated URLs.
    #[arg(long, env = "DOZOR_WEBHOOK_URLS", global = true, value_delimiter = ',')]
    pub webhook_urls: Vec<String>,
    /// Remind about an alert still firing this often [default: 4h].
    #[arg(long, env = "DOZOR_ALERT_REPEAT_INTERVAL", global = true)]
    pub alert_repeat_interval: Option<String>,
    /// A new alert group waits this long for companions before its first
    /// message [default: 30s].
    #[arg(long, env = "DOZOR_ALERT_GROUP_WAIT", global = true)]
    pub alert_group_wait: Option<String>,
    /// A group's later changes go out at most this often [default: 5m].
    #[arg(long, env = "DOZOR_ALERT_GROUP_INTERVAL", global = true)]
    pub alert_group_interval: Option<String>,
    /// dozor's public URL, for links in notifications [default: http://LISTEN].
    #[arg(long, env = "DOZOR_EXTERNAL_URL", global = true)]
    pub external_url: Option<String>,
    #[command(flatten)]
    pub local_nginx: super::nginx_args::LocalNginxArgs,
}

/// `dozor.toml`: the same keys as the flags, snake_case.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_password_file: Option<PathBuf>,
    pub remote_write_token_file: Option<PathBuf>,
    pub retention: Option<String>,
    pub local_collector: Option<bool>,
    pub local_collector_root: Option<PathBuf>,
    pub local_collector_interval: Option<String>,
    pub dashboards_dir: Option<PathBuf>,
    pub session_idle: Option<String>,
    pub session_max: Option<String>,
    pub metrics_auth: Option<String>,
    pub max_series_per_agent: Option<usize>,
    pub rules_dir: Option<PathBuf>,
    pub builtin_rules: Option<bool>,
    pub self_metrics_interval: Option<String>,
    pub autoscale_interval: Option<String>,
    pub telegram_token_file: Option<PathBuf>,
    pub telegram_chats: Option<Vec<i64>>,
    pub telegram_api_url: Option<String>,
    pub webhook_urls: Option<Vec<String>>,
    pub alert_repeat_interval: Option<String>,
    pub alert_group_wait: Option<String>,
    pub alert_group_interval: Option<String>,
    pub external_url: Option<String>,
}
