//! The Telegram bot's commands and inline buttons. A chat is linked to a
//! notification channel with `/subscribe CODE` (a one-time code made on
//! the Telegram settings page); the link remembers who made the code, and
//! that user's current role decides what the chat may do. Replies are
//! Telegram HTML with every value escaped. The polling loop is in
//! `bot_poll.rs`; this part only decides what to answer.

use super::silence;
use super::state::State;
use super::telegram::{escape, human_duration};
use crate::ops::{self, Actor, OpError, Ops};
use crate::storage::UserRecord;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

pub use crate::ops::telegram::CODE_TTL_MS;
/// Agents seen within this window count as up in `/status`.
const ONLINE_MS: i64 = 120_000;

pub const HELP: &str = "dozor bot. Commands:\n/subscribe CODE: link this chat (make a code on dozor's Telegram settings page)\n/unsubscribe: unlink this chat\n/alerts: what is firing now\n/silence ALERT-OR-MATCHERS DURATION: e.g. /silence DiskFull 2h or /silence host=\"web-1\" 30m (editors and admins)\n/status: hosts up and down";

pub struct Commands {
    ops: Ops,
    /// `/subscribe` attempts per chat, against guessing codes.
    attempts: DefaultKeyedRateLimiter<i64>,
}

/// An operation's refusal as the bot says it.
fn said(e: OpError) -> Result<String, String> {
    match e {
        OpError::Storage(e) => Err(e.to_string()),
        other => Ok(escape(&other.to_string())),
    }
}

impl Commands {
    pub fn new(ops: Ops) -> Self {
        let five = NonZeroU32::new(5).expect("nonzero");
        Self {
            ops,
            attempts: RateLimiter::keyed(Quota::per_minute(five)),
        }
    }

    /// The most capable enabled user who linked this chat, if any.
    async fn linked_user(&self, chat: i64) -> Result<Option<UserRecord>, String> {
        let store = self.ops.store();
        let links = store.chat_links().await.map_err(|e| e.to_string())?;
        let mut best: Option<UserRecord> = None;
        for l in links.iter().filter(|l| l.chat_id == chat) {
            if let Ok(Some(u)) = store.user_by_id(l.user_id).await {
                if !u.disabled && best.as_ref().is_none_or(|b| u.role > b.role) {
                    best = Some(u);
                }
            }
        }
        Ok(best)
    }

    pub fn store(&self) -> &crate::storage::Store {
        self.ops.store()
    }

    /// The chat acts as the most capable user who linked it.
    async fn actor(&self, chat: i64) -> Result<Result<Actor, String>, String> {
        Ok(self
            .require_link(chat)
            .await?
            .map(|u| Actor::telegram(u.id, &u.username, u.role, chat)))
    }

    /// The reply to a message starting with `/`.
    #[tracing::instrument(skip_all, fields(chat))]
    pub async fn command(&self, chat: i64, text: &str) -> String {
        let text = text.trim();
        let (cmd, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        // `/cmd@dozor_bot` in groups.
        let cmd = cmd.split('@').next().unwrap_or(cmd);
        let args = args.trim();
        let result = match cmd {
            "/start" | "/help" => Ok(format!("{}\nThis chat's id: {chat}", escape(HELP))),
            "/subscribe" => self.subscribe(chat, args).await,
            "/unsubscribe" => self.unsubscribe(chat).await,
            "/alerts" => self.alerts(chat).await,
            "/silence" => self.silence_command(chat, args).await,
            "/status" => self.status(chat).await,
            _ => Ok("Unknown command. Send /start for the list.".into()),
        };
        result.unwrap_or_else(|e| format!("Sorry, that failed: {}", escape(&e)))
    }

    async fn subscribe(&self, chat: i64, code: &str) -> Result<String, String> {
        if self.attempts.check_key(&chat).is_err() {
            return Ok("Too many attempts; wait a minute.".into());
        }
        match ops::telegram::link_chat(&self.ops, chat, code).await {
            Ok(link) => Ok(format!(
                "Subscribed: alerts for channel <b>{}</b> come to this chat. /unsubscribe to stop.",
                escape(&link.channel)
            )),
            // Unknown, used and expired codes get the same answer.
            Err(e) => said(e),
        }
    }

    async fn unsubscribe(&self, chat: i64) -> Result<String, String> {
        match ops::telegram::unlink_chat(&self.ops, None, chat).await {
            Ok(n) => Ok(format!("Unsubscribed from {n} channel(s).")),
            Err(e) => said(e),
        }
    }

    async fn require_link(&self, chat: i64) -> Result<Result<UserRecord, String>, String> {
        Ok(self.linked_user(chat).await?.ok_or_else(|| {
            "This chat is not linked. Make a code on dozor's Telegram settings page and send /subscribe CODE.".to_string()
        }))
    }

    async fn alerts(&self, chat: i64) -> Result<String, String> {
        if let Err(why) = self.require_link(chat).await? {
            return Ok(why);
        }
        let Some(a) = self.ops.alerting() else {
            return Ok("No alert rules are loaded.".into());
        };
        let now = self.ops.now_ms();
        let mut lines = Vec::new();
        for (key, alerts) in a.snapshot().await {
            let rule = super::rules::rule_name(&key);
            for (labels, al) in alerts.iter().filter(|(_, al)| al.state == State::Firing) {
                let rest: Vec<String> = labels
                    .iter()
                    .filter(|(k, _)| *k != "alertname")
                    .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
                    .collect();
                let since = al.fired_at_ms.unwrap_or(al.active_at_ms);
                lines.push(format!(
                    "🔥 <b>{}</b> {} for {}",
                    escape(&rule),
                    rest.join(" "),
                    human_duration(now - since)
                ));
            }
        }
        lines.sort();
        if lines.is_empty() {
            return Ok("Nothing is firing.".into());
        }
        Ok(format!("{} firing:\n{}", lines.len(), lines.join("\n")))
    }

    /// `/silence DiskFull 2h` or `/silence host="web-1", alertname=~"Disk.*" 30m`.
    async fn silence_command(&self, chat: i64, args: &str) -> Result<String, String> {
        let Some((what, duration)) = args.rsplit_once(char::is_whitespace) else {
            return Ok(
                "Usage: /silence ALERT-OR-MATCHERS DURATION, e.g. /silence DiskFull 2h".into(),
            );
        };
        let actor = match self.actor(chat).await? {
            Ok(a) => a,
            Err(why) => return Ok(why),
        };
        let comment = format!("from Telegram chat {chat}");
        let made = ops::silences::create(&self.ops, &actor, what, duration, &comment).await;
        self.silenced(made, duration, &actor)
    }

    fn silenced(
        &self,
        made: ops::OpResult<ops::silences::Created>,
        label: &str,
        actor: &Actor,
    ) -> Result<String, String> {
        match made {
            Ok(c) => Ok(format!(
                "Silenced {} for {} by {}.",
                escape(&c.matchers),
                escape(label),
                escape(&actor.name)
            )),
            Err(OpError::Forbidden(_)) => Ok("Only editors and admins may silence alerts.".into()),
            Err(OpError::Invalid(e)) => Ok(format!("Not silenced: {}", escape(&e))),
            Err(e) => said(e),
        }
    }

    async fn status(&self, chat: i64) -> Result<String, String> {
        if let Err(why) = self.require_link(chat).await? {
            return Ok(why);
        }
        let now = self.ops.now_ms();
        let agents = self
            .ops
            .store()
            .list_agents()
            .await
            .map_err(|e| e.to_string())?;
        let live: Vec<_> = agents.iter().filter(|a| a.revoked_ms.is_none()).collect();
        let down: Vec<String> = live
            .iter()
            .filter(|a| a.last_seen_ms.is_none_or(|t| now - t > ONLINE_MS))
            .map(|a| escape(&a.name))
            .collect();
        let firing = match self.ops.alerting() {
            Some(a) => a
                .snapshot()
                .await
                .values()
                .flat_map(|m| m.values())
                .filter(|al| al.state == State::Firing)
                .count(),
            None => 0,
        };
        let mut text = format!(
            "Hosts: {} up, {} down. Alerts firing: {firing}.",
            live.len() - down.len(),
            down.len()
        );
        if !down.is_empty() {
            text.push_str(&format!("\nDown: {}", down.join(", ")));
        }
        Ok(text)
    }

    /// An inline button: `s:FINGERPRINT` silences that alert for an hour,
    /// `a:FINGERPRINT` acknowledges it (recorded in the history).
    #[tracing::instrument(skip_all, fields(chat))]
    pub async fn callback(&self, chat: i64, data: &str) -> String {
        let Some((kind, fp)) = data.split_once(':') else {
            return "Unknown button.".into();
        };
        let Some(a) = self.ops.alerting() else {
            return "No alert rules are loaded.".into();
        };
        let found = a.snapshot().await.into_iter().find_map(|(rule, alerts)| {
            alerts
                .into_keys()
                .find(|l| super::notify::fingerprint(l) == fp)
                .map(|l| (super::rules::rule_name(&rule), l))
        });
        let Some((rule, labels)) = found else {
            return "That alert is no longer active.".into();
        };
        let result = match kind {
            "s" => {
                let matchers: Result<Vec<_>, _> = labels
                    .iter()
                    .map(|(k, v)| silence::Matcher::new(k, silence::Op::Eq, v))
                    .collect();
                match (matchers, self.actor(chat).await) {
                    (Ok(m), Ok(Ok(actor))) => {
                        let comment = format!("from Telegram chat {chat}");
                        let made = ops::silences::create_matching(
                            &self.ops, &actor, m, 3_600_000, &comment,
                        )
                        .await;
                        self.silenced(made, "1h", &actor)
                    }
                    (_, Ok(Err(why))) => Ok(why),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            }
            "a" => self.acknowledge(chat, &rule, &labels).await,
            _ => Ok("Unknown button.".into()),
        };
        // Toasts are plain text.
        let html = result.unwrap_or_else(|e| format!("Sorry, that failed: {e}"));
        html.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
    }

    async fn acknowledge(
        &self,
        chat: i64,
        rule: &str,
        labels: &super::state::Labels,
    ) -> Result<String, String> {
        let actor = match self.actor(chat).await? {
            Ok(a) => a,
            Err(why) => return Ok(why),
        };
        match ops::telegram::acknowledge(&self.ops, &actor, rule, labels).await {
            Ok(()) => Ok(format!(
                "Acknowledged {} by {}.",
                escape(rule),
                escape(&actor.name)
            )),
            Err(e) => said(e),
        }
    }
}
