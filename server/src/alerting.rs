//! Alerting: rules (Prometheus rule files) evaluated through the one
//! PromQL engine, Prometheus's alert state machine with hysteresis, state
//! and history persisted, and a durable outbox drained by notifiers
//! (Telegram, Alertmanager-style webhooks).
//!
//! Invariant: `state`, `template` and `rules` do no I/O; `engine` reads
//! PromQL and writes storage; `outbox` talks to receivers.

pub mod bot;
pub mod bot_poll;
pub mod builtin;
pub mod engine;
pub mod mutes;
pub mod notify;
pub mod outbox;
pub mod policy;
pub mod presets;
pub mod preview;
pub mod rule_key;
pub mod rules;
pub mod scheduler;
pub mod self_alert;
pub mod service;
pub mod silence;
pub mod state;
mod stored;
pub mod telegram;
pub mod template;
pub mod ui_rules;
pub mod unittest;

use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Default)]
pub struct AlertingConfig {
    /// Prometheus-format rule files (`*.yml`, `*.yaml`).
    pub rules_dir: Option<PathBuf>,
    /// Run the built-in rules (`builtin.rs`).
    pub builtin_rules: bool,
    /// Evaluation interval for groups that do not set one.
    pub default_interval: Duration,
    /// Re-notify an alert still firing this often.
    pub repeat_interval: Duration,
    /// A new alert group waits this long for companions.
    pub group_wait: Duration,
    /// A group's later changes go out at most this often.
    pub group_interval: Duration,
    /// After a restart, pending `for` timers continue if the server was
    /// down less than this.
    pub restart_tolerance: Duration,
    pub telegram_token: Option<String>,
    /// Where the Bot API lives (tests point it at a local fake).
    pub telegram_api_url: Option<String>,
    pub telegram_chats: Vec<i64>,
    /// The bot's getUpdates long-poll timeout (zero: short polls).
    pub bot_poll: Duration,
    /// Alertmanager-compatible webhook receivers.
    pub webhooks: Vec<String>,
    /// dozor's own URL, for links in notifications.
    pub external_url: String,
}

/// Never prints the bot token.
impl std::fmt::Debug for AlertingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertingConfig")
            .field("rules_dir", &self.rules_dir)
            .field(
                "telegram_token",
                &self.telegram_token.as_ref().map(|_| "<redacted>"),
            )
            .field("telegram_chats", &self.telegram_chats)
            .field("webhooks", &self.webhooks.len())
            .finish_non_exhaustive()
    }
}

impl AlertingConfig {
    pub fn defaults() -> Self {
        Self {
            default_interval: Duration::from_secs(30),
            repeat_interval: Duration::from_secs(4 * 3600),
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(300),
            restart_tolerance: Duration::from_secs(3600),
            bot_poll: Duration::from_secs(25),
            builtin_rules: true,
            ..Default::default()
        }
    }

    pub fn policy_defaults(&self) -> policy::Defaults {
        policy::Defaults {
            group_wait_ms: self.group_wait.as_millis() as i64,
            group_interval_ms: self.group_interval.as_millis() as i64,
            repeat_interval_ms: self.repeat_interval.as_millis() as i64,
        }
    }

    /// Outbox targets (`telegram:CHAT`, `webhook:URL`) of the named
    /// channels: the configured chats and webhooks form "default", and
    /// chats linked by `/subscribe` join their channel.
    pub fn targets(&self, channels: &[String], links: &[crate::storage::ChatLink]) -> Vec<String> {
        let mut t: Vec<String> = Vec::new();
        if channels.iter().any(|c| c == "default") {
            t.extend(
                self.telegram_chats
                    .iter()
                    .map(|id| format!("telegram:{id}")),
            );
            t.extend(self.webhooks.iter().map(|u| format!("webhook:{u}")));
        }
        for l in links.iter().filter(|l| channels.contains(&l.channel)) {
            let target = format!("telegram:{}", l.chat_id);
            if !t.contains(&target) {
                t.push(target);
            }
        }
        t
    }
}
