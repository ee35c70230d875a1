//! Starting alerting: the rule engine (when a rules directory is set),
//! the outbox dispatcher, and the Telegram bot. The bot token comes from
//! the environment or flags, else from the token file the settings page
//! writes (`DATA_DIR/telegram-token`, mode 0600, never in the database).

use super::bot::Commands;
use super::bot_poll::{self, Slot};
use super::engine::Alerting;
use super::notify::Webhook;
use super::outbox::Dispatcher;
use super::telegram::Telegram;
use crate::config::Config;
use crate::storage::Store;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub fn token_file(data_dir: &Path) -> PathBuf {
    data_dir.join("telegram-token")
}

/// Writes the token readable by the owner only.
pub fn save_token(data_dir: &Path, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = token_file(data_dir);
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(token.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

/// What the settings page needs to replace the bot's token.
#[derive(Clone)]
pub struct TelegramSettings {
    pub slot: Slot,
    pub api_url: Option<String>,
    pub data_dir: PathBuf,
    /// Set by flag or environment: the page cannot override it.
    pub from_config: bool,
    pub http: reqwest::Client,
}

impl TelegramSettings {
    pub fn client(&self, token: &str) -> anyhow::Result<Telegram> {
        Telegram::new(token, self.api_url.as_deref(), self.http.clone())
    }
}

pub struct Started {
    pub alerting: Option<Arc<Alerting>>,
    pub telegram: TelegramSettings,
    dispatcher: Arc<Dispatcher>,
    commands: Arc<Commands>,
    poll: std::time::Duration,
}

/// Loads rules (a rule file that does not load stops the start, naming
/// the file, group and rule) and builds the notifiers.
pub async fn load(cfg: &Config, store: &Store, ops: &crate::ops::Ops) -> anyhow::Result<Started> {
    let interval = cfg.alerting.default_interval.as_millis() as i64;
    let groups = match &cfg.alerting.rules_dir {
        Some(dir) => {
            let groups = super::rules::load_dir(dir, interval)?;
            let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
            tracing::info!(dir = %dir.display(), groups = groups.len(), rules, "alert rules loaded");
            groups
        }
        None => Vec::new(),
    };
    let engine = crate::storage::engine(store, crate::promql::Limits::default());
    let a = Alerting::load(
        cfg.alerting.clone(),
        groups,
        engine,
        store.clone(),
        cfg.clock.clone(),
    )
    .await?;
    reload_ui_rules(&a, store).await?;
    let a = Arc::new(a);
    let alerting = Some(a.clone());
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let saved = std::fs::read_to_string(token_file(&cfg.data_dir))
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let token = cfg.alerting.telegram_token.clone().or(saved);
    let settings = TelegramSettings {
        slot: Slot::default(),
        api_url: cfg.alerting.telegram_api_url.clone(),
        data_dir: cfg.data_dir.clone(),
        from_config: cfg.alerting.telegram_token.is_some(),
        http: http.clone(),
    };
    if let Some(t) = &token {
        let tg = settings
            .client(t)
            .context("the Telegram token or API URL")?;
        settings.slot.set(tg);
    }
    let webhook = Webhook {
        http,
        external_url: cfg.alerting.external_url.clone(),
    };
    let dispatcher = Arc::new(
        Dispatcher::new(
            store.clone(),
            settings.slot.clone(),
            webhook,
            cfg.clock.clone(),
        )
        .self_alert_to(cfg.alerting.targets(&["default".into()], &[]))
        .woken_by(a.queued.clone()),
    );
    ops.set_alerting(a.clone(), settings.clone());
    let commands = Arc::new(Commands::new(ops.clone()));
    Ok(Started {
        alerting,
        telegram: settings,
        dispatcher,
        commands,
        poll: cfg.alerting.bot_poll,
    })
}

/// Runs the engine, the dispatcher and the bot until shutdown.
pub fn spawn(s: &Started, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(a) = &s.alerting {
        tasks.push(tokio::spawn(super::scheduler::run(
            a.clone(),
            shutdown.clone(),
        )));
    }
    tasks.push(tokio::spawn(s.dispatcher.clone().run(shutdown.clone())));
    tasks.push(tokio::spawn(bot_poll::run(
        s.telegram.slot.clone(),
        s.commands.clone(),
        s.poll,
        shutdown.clone(),
    )));
    tasks
}

/// Compiles the built-in rules (with their stored changes) and the rules
/// made in the UI, and hands them to the engine. A stored rule that no
/// longer compiles is logged and skipped, not fatal.
pub async fn reload_ui_rules(a: &Alerting, store: &Store) -> crate::storage::Result<()> {
    let interval = a.config.default_interval.as_millis() as i64;
    let mut groups = Vec::new();
    if a.config.builtin_rules {
        let overrides = store.builtin_overrides().await?;
        let list = super::builtin::effective(&overrides, interval);
        groups.extend(super::builtin::groups(&list, interval));
    }
    let mut broken = Vec::new();
    for row in store.ui_rules().await? {
        let source = super::rules::ui_source(&row.name);
        match super::rules::parse_from(&row.name, &source, &row.spec, interval) {
            Ok(g) => groups.extend(g),
            Err(e) => {
                // Never fatal: a rule saved by an older version (or edited
                // in the database) must not keep the server from starting.
                tracing::error!(rule = %row.name, error = %e, "a rule made in the UI does not compile; skipped");
                broken.push((row.name, e.to_string()));
            }
        }
    }
    a.set_ui_groups(groups, broken).await
}
