//! Telegram (teloxide): HTML parse mode with every interpolated value
//! escaped, messages split on line boundaries at 4096 characters (never
//! truncated), Telegram's rate limits (1 message/s per chat, 20/min in
//! groups, 30/s overall) with governor, `retry_after` honoured, 5xx and
//! network errors retried, permanent errors (chat not found, bot blocked)
//! given up on.

use super::notify::{Failure, Message, Notification, Notifier};
use super::template::format_value;
use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use teloxide::payloads::SendMessageSetters;
use teloxide::requests::Requester;
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ParseMode};
use teloxide::{ApiError, Bot, RequestError};

/// Telegram's limit on a message's text.
pub const MAX_MESSAGE: usize = 4096;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

pub fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60) {
        (0, 0, 0, sec) => format!("{sec}s"),
        (0, 0, m, sec) => format!("{m}m {sec}s"),
        (0, h, m, _) => format!("{h}h {m}m"),
        (d, h, _, _) => format!("{d}d {h}h"),
    }
}

/// The message, in Telegram's HTML: tags only where dozor puts them,
/// everything from labels, annotations and values escaped.
pub fn format(n: &Notification) -> String {
    let mut lines = Vec::new();
    let name = escape(n.alertname());
    let sev = escape(n.severity());
    if n.status == "resolved" {
        let took = n
            .ends_at_ms
            .map(|e| human_duration(e - n.starts_at_ms))
            .unwrap_or_default();
        lines.push(format!("✅ <b>RESOLVED</b> {name} [{sev}] after {took}"));
    } else {
        let tag = if n.repeat { "STILL FIRING" } else { "FIRING" };
        lines.push(format!("🔥 <b>{tag}</b> {name} [{sev}]"));
    }
    for key in ["summary", "description"] {
        if let Some(v) = n.annotations.get(key) {
            lines.extend(v.lines().map(escape));
        }
    }
    if let Some(v) = n.value {
        lines.push(format!("value: <code>{}</code>", escape(&format_value(v))));
    }
    // Plain text, no tags: a long label line may be cut between parts,
    // and a tag must never straddle two messages. Newlines in values are
    // shown, not obeyed.
    let labels: Vec<String> = n
        .labels
        .iter()
        .filter(|(k, _)| *k != "alertname" && *k != "severity")
        .map(|(k, v)| format!("{}={}", escape(k), escape(&v.replace('\n', "\\n"))))
        .collect();
    if !labels.is_empty() {
        lines.push(labels.join(", "));
    }
    lines.join("\n")
}

/// A group's message: one alert as `format`, several under a header
/// naming the group, each alert's block after a blank line.
pub fn format_message(m: &Message) -> String {
    if let [one] = m.alerts.as_slice() {
        return format(one);
    }
    let firing = m.alerts.iter().filter(|a| a.status == "firing").count();
    let group: Vec<String> = m
        .group_labels
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(&v.replace('\n', "\\n"))))
        .collect();
    let mut text = format!(
        "📣 <b>{} alerts</b> ({firing} firing, {} resolved) {}",
        m.alerts.len(),
        m.alerts.len() - firing,
        group.join(" ")
    );
    for a in &m.alerts {
        text.push_str("\n\n");
        text.push_str(&format(a));
    }
    text
}

/// Splits on line boundaries into parts of at most `max` characters. A
/// single longer line is cut between characters, never inside an HTML
/// entity; tags only ever open and close on one short line, so they are
/// never cut.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    for line in text.split('\n') {
        let len = line.chars().count();
        if cur_len > 0 && cur_len + 1 + len > max {
            parts.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if len > max {
            let mut piece = String::new();
            let mut n = 0;
            let chars: Vec<char> = line.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                // Keep `&…;` whole.
                let token_len = if chars[i] == '&' {
                    chars[i..]
                        .iter()
                        .take(10)
                        .position(|c| *c == ';')
                        .map(|p| p + 1)
                        .unwrap_or(1)
                } else {
                    1
                };
                if n + token_len > max {
                    parts.push(std::mem::take(&mut piece));
                    n = 0;
                }
                piece.extend(&chars[i..i + token_len]);
                n += token_len;
                i += token_len;
            }
            cur = piece;
            cur_len = n;
            continue;
        }
        if cur_len > 0 {
            cur.push('\n');
            cur_len += 1;
        }
        cur.push_str(line);
        cur_len += len;
    }
    if cur_len > 0 || parts.is_empty() {
        parts.push(cur);
    }
    parts
}

pub struct Telegram {
    bot: Bot,
    per_chat: DefaultKeyedRateLimiter<i64>,
    per_group: DefaultKeyedRateLimiter<i64>,
    global: DefaultDirectRateLimiter,
}

impl Telegram {
    /// `api_url` replaces https://api.telegram.org (tests use a local fake).
    pub fn new(token: &str, api_url: Option<&str>, http: reqwest::Client) -> anyhow::Result<Self> {
        let mut bot = Bot::with_client(token, http);
        if let Some(u) = api_url {
            bot = bot.set_api_url(u.parse()?);
        }
        let nz = |n| NonZeroU32::new(n).expect("nonzero");
        Ok(Self {
            bot,
            per_chat: RateLimiter::keyed(Quota::per_second(nz(1))),
            per_group: RateLimiter::keyed(Quota::per_minute(nz(20))),
            global: RateLimiter::direct(Quota::per_second(nz(30))),
        })
    }

    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    async fn pace(&self, chat_id: i64) {
        self.global.until_ready().await;
        self.per_chat.until_key_ready(&chat_id).await;
        if chat_id < 0 {
            self.per_group.until_key_ready(&chat_id).await;
        }
    }

    /// A bot reply or test message (HTML, already escaped), paced like
    /// notifications and split the same way; not through the outbox.
    pub async fn reply(&self, chat_id: i64, html: &str) -> Result<(), RequestError> {
        for part in split(html, MAX_MESSAGE) {
            self.pace(chat_id).await;
            self.bot
                .send_message(ChatId(chat_id), part)
                .parse_mode(ParseMode::Html)
                .await?;
        }
        Ok(())
    }
}

/// "Silence 1h" and "Acknowledge" under a message about one firing alert.
fn buttons(m: &Message) -> Option<InlineKeyboardMarkup> {
    let [one] = m.alerts.as_slice() else {
        return None;
    };
    if one.status != "firing" {
        return None;
    }
    let fp = super::notify::fingerprint(&one.labels);
    Some(InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback("Silence 1h", format!("s:{fp}")),
        InlineKeyboardButton::callback("Acknowledge", format!("a:{fp}")),
    ]]))
}

/// Errors that will not go away by retrying.
fn permanent(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::BotBlocked
            | ApiError::ChatNotFound
            | ApiError::UserNotFound
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots
            | ApiError::InvalidToken
            | ApiError::GroupDeactivated
            | ApiError::NotEnoughRightsToPostMessages
            | ApiError::CantParseEntities(_)
            | ApiError::MessageIsTooLong
    )
}

#[async_trait]
impl Notifier for Telegram {
    fn parts(&self, m: &Message) -> usize {
        split(&format_message(m), MAX_MESSAGE).len()
    }

    async fn send_part(&self, chat: &str, m: &Message, part: usize) -> Result<(), Failure> {
        let chat_id: i64 = chat.parse().map_err(|_| Failure::Permanent {
            reason: format!("bad Telegram chat id {chat:?}"),
        })?;
        // Splitting is deterministic, so part i is the same text on every
        // attempt and after a restart.
        let parts = split(&format_message(m), MAX_MESSAGE);
        let Some(text) = parts.get(part) else {
            return Ok(());
        };
        self.pace(chat_id).await;
        let mut req = self
            .bot
            .send_message(ChatId(chat_id), text.clone())
            .parse_mode(ParseMode::Html);
        if part == parts.len() - 1 {
            if let Some(b) = buttons(m) {
                req = req.reply_markup(b);
            }
        }
        match req.await {
            Ok(_) => Ok(()),
            Err(RequestError::RetryAfter(after)) => Err(Failure::Retry {
                after: Some(after.duration()),
                reason: format!("Telegram asked to retry after {}s", after.seconds()),
            }),
            Err(RequestError::Api(e)) if permanent(&e) => Err(Failure::Permanent {
                reason: format!("Telegram: {e}"),
            }),
            Err(RequestError::MigrateToChatId(to)) => Err(Failure::Permanent {
                reason: format!("the group became supergroup {to}; update the chat id"),
            }),
            Err(e) => Err(Failure::Retry {
                after: None,
                reason: format!("Telegram: {e}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(status: &str) -> Notification {
        Notification {
            status: status.into(),
            labels: [
                ("alertname".to_string(), "Disk<Full>".to_string()),
                ("host".into(), "<script>alert(1)</script>".into()),
                ("team".into(), "a&b".into()),
            ]
            .into_iter()
            .collect(),
            annotations: [("summary".to_string(), "95% used on <b>".to_string())]
                .into_iter()
                .collect(),
            value: Some(95.5),
            starts_at_ms: 0,
            ends_at_ms: Some(754_000),
            repeat: false,
        }
    }

    #[test]
    fn escapes_everything_interpolated() {
        let t = format(&n("firing"));
        assert!(
            t.starts_with("🔥 <b>FIRING</b> Disk&lt;Full&gt; [warning]"),
            "{t}"
        );
        assert!(t.contains("host=&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(t.contains("team=a&amp;b") && t.contains("95% used on &lt;b&gt;"));
        assert!(!t.contains("<script>"));
        let r = format(&n("resolved"));
        assert!(
            r.contains("RESOLVED</b> Disk&lt;Full&gt; [warning] after 12m 34s"),
            "{r}"
        );
    }

    #[test]
    fn splits_on_lines_without_losing_anything() {
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i} &amp; more")).collect();
        let text = lines.join("\n");
        let parts = split(&text, MAX_MESSAGE);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE));
        assert_eq!(parts.join("\n"), text, "nothing lost or reordered");
        assert!(
            parts.iter().all(|p| p.starts_with("line ")),
            "cut on line boundaries"
        );
        // One huge line: cut, but never inside an entity.
        let huge = "&amp;".repeat(2000);
        let parts = split(&huge, MAX_MESSAGE);
        assert_eq!(parts.concat(), huge);
        assert!(parts
            .iter()
            .all(|p| p.chars().count() <= MAX_MESSAGE && p.ends_with(';')));
        assert_eq!(split("", 10), [""]);
    }
}
