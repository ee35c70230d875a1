//! The getting-started checklist on the overview: what a new installation
//! still lacks (a second host, Telegram, a read token for Grafana) and how
//! many built-in rules are on. Shown to admins until every step is done or
//! an admin dismisses it (stored, so it stays dismissed).

use super::{Actor, OpResult, Ops};
use crate::storage::{Role, Scope};

const DISMISSED: &str = "getting_started_dismissed";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    pub hosts: usize,
    /// A bot token is set.
    pub telegram_bot: bool,
    /// Chats that receive alerts (configured or linked by /subscribe).
    pub telegram_chats: usize,
    /// Read tokens that are not revoked.
    pub read_tokens: usize,
    pub builtin_on: usize,
    pub builtin_total: usize,
    pub dismissed: bool,
}

impl Onboarding {
    pub fn hosts_done(&self) -> bool {
        self.hosts >= 2
    }
    pub fn telegram_done(&self) -> bool {
        self.telegram_bot && self.telegram_chats > 0
    }
    pub fn grafana_done(&self) -> bool {
        self.read_tokens > 0
    }
    /// Shown while a step is open and nobody dismissed it.
    pub fn show(&self) -> bool {
        let all_done = self.hosts_done() && self.telegram_done() && self.grafana_done();
        !self.dismissed && !all_done
    }
}

/// Where the installation stands; None for anyone but an admin.
pub async fn status(ops: &Ops, actor: &Actor) -> OpResult<Option<Onboarding>> {
    if actor.role < Role::Admin {
        return Ok(None);
    }
    let store = ops.store();
    let hosts = store
        .list_agents()
        .await?
        .iter()
        .filter(|a| a.revoked_ms.is_none())
        .count();
    let mut chats: Vec<i64> = store
        .chat_links()
        .await?
        .iter()
        .map(|l| l.chat_id)
        .collect();
    if let Some(a) = ops.alerting() {
        chats.extend(&a.config.telegram_chats);
    }
    chats.sort_unstable();
    chats.dedup();
    let read_tokens = store
        .list_api_tokens(None)
        .await?
        .iter()
        .filter(|t| t.revoked_ms.is_none() && t.scope == Scope::Read)
        .count();
    let builtins = super::rules::builtins(ops).await?;
    let builtin_on = match ops.alerting() {
        Some(a) if a.config.builtin_rules => builtins.iter().filter(|b| !b.disabled).count(),
        _ => 0,
    };
    Ok(Some(Onboarding {
        hosts,
        telegram_bot: ops.telegram().is_some_and(|t| t.slot.get().is_some()),
        telegram_chats: chats.len(),
        read_tokens,
        builtin_on,
        builtin_total: builtins.len(),
        dismissed: store.setting(DISMISSED).await?.is_some(),
    }))
}

/// Hides the checklist for every admin.
pub async fn dismiss(ops: &Ops, actor: &Actor) -> OpResult<()> {
    Ops::require(actor, Role::Admin)?;
    ops.store()
        .set_setting(DISMISSED, &ops.now_ms().to_string())
        .await?;
    ops.audit(actor, "getting_started.dismiss", None).await;
    Ok(())
}
