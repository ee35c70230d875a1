//! The operation layer: every state-changing operation, once. An operation
//! checks the actor's role, validates, writes, audits and notifies; the
//! dashboard's handlers, the JSON API, the Telegram bot and the CLI all
//! call the same function and only parse their input and render the
//! outcome. None of them writes to storage or the audit log directly.

pub mod agents;
pub mod autoscale;
pub mod certificates;
pub mod checks;
pub mod containers;
pub mod onboarding;
pub mod protection;
pub mod rules;
pub mod services;
pub mod silences;
pub mod targets;
pub mod telegram;
pub mod tokens;
pub mod users;

use crate::alerting::engine::Alerting;
use crate::clock::Clock;
use crate::ingest::cardinality::SeriesLimiter;
use crate::storage::{AuditEntry, Role, StorageError, Store};
use crate::tasks::{Hub, TaskError};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("max(1)")
}

/// Who acts, with what role, from where (for the audit log).
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user's id; None for the command line and dozor itself.
    pub id: Option<i64>,
    pub name: String,
    pub role: Role,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A signed-in browser.
    Web(Option<IpAddr>),
    /// An API token.
    Api,
    /// `dozor-server` subcommands, run by whoever can run the server.
    Cli,
    /// A Telegram chat linked by this user.
    Telegram(i64),
    /// dozor itself (controller loops).
    System,
}

impl Actor {
    pub fn web(id: i64, name: &str, role: Role, ip: Option<IpAddr>) -> Self {
        Self {
            id: Some(id),
            name: name.to_string(),
            role,
            origin: Origin::Web(ip),
        }
    }

    /// dozor itself (a controller loop such as the fleet rule).
    pub fn system(name: &str) -> Self {
        Self {
            id: None,
            name: name.to_string(),
            role: Role::Admin,
            origin: Origin::System,
        }
    }

    /// The command line acts as an admin: it can open the store anyway.
    pub fn cli() -> Self {
        Self {
            id: None,
            name: "cli".into(),
            role: Role::Admin,
            origin: Origin::Cli,
        }
    }

    /// An API token's (or a session's JSON) caller, with the role its
    /// scope allows.
    pub fn api(id: i64, name: &str, scope: crate::storage::Scope) -> Self {
        use crate::storage::Scope;
        Self {
            id: Some(id),
            name: name.to_string(),
            role: match scope {
                Scope::Read => Role::Viewer,
                Scope::Write => Role::Editor,
                Scope::Admin => Role::Admin,
            },
            origin: Origin::Api,
        }
    }

    /// A user acting through a linked Telegram chat.
    pub fn telegram(id: i64, name: &str, role: Role, chat: i64) -> Self {
        Self {
            id: Some(id),
            name: name.to_string(),
            role,
            origin: Origin::Telegram(chat),
        }
    }

    /// Someone not signed in yet (accepting an invitation, the first
    /// admin): what they may do is decided by the token they hold.
    pub fn anonymous(name: &str, ip: Option<IpAddr>) -> Self {
        Self {
            id: None,
            name: name.to_string(),
            role: Role::Viewer,
            origin: Origin::Web(ip),
        }
    }

    fn detail(&self) -> Option<String> {
        match self.origin {
            Origin::Cli => Some("command line".into()),
            Origin::Telegram(chat) => Some(format!("telegram chat {chat}")),
            Origin::Api => Some("API token".into()),
            Origin::System => Some("dozor".into()),
            Origin::Web(_) => None,
        }
    }

    fn ip(&self) -> Option<String> {
        match self.origin {
            Origin::Web(ip) => ip.map(|i| i.to_string()),
            _ => None,
        }
    }
}

/// Why an operation did not happen. `status` is the one place these
/// become HTTP statuses.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("only {}s and above may do this", .0.as_str())]
    Forbidden(Role),
    /// Something the actor can fix; the message says what.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Fields the actor must fix, each with what is wrong.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Fields(Vec<dozor_common::services::FieldError>),
    /// Too many of these; try again after the wait.
    #[error("{0}; slow down")]
    Limited(String, std::time::Duration),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Task(#[from] TaskError),
}

impl OpError {
    pub fn status(&self) -> u16 {
        match self {
            OpError::Forbidden(_) => 403,
            OpError::Invalid(_) | OpError::Fields(_) => 400,
            OpError::NotFound(_) => 404,
            OpError::Conflict(_) => 409,
            OpError::Limited(..) => 429,
            OpError::Storage(e) if e.is_unavailable() => 503,
            OpError::Storage(_) => 500,
            OpError::Task(e) => e.status(),
        }
    }
}

pub type OpResult<T> = Result<T, OpError>;

struct Inner {
    store: Store,
    clock: Clock,
    tasks: Hub,
    series: Arc<SeriesLimiter>,
    alerting: OnceLock<Arc<Alerting>>,
    telegram: OnceLock<crate::alerting::service::TelegramSettings>,
    /// Work users' pages queue on agents (log fetches), per user.
    user_tasks: DefaultKeyedRateLimiter<String>,
    /// Where each agent's heartbeats came from last, so the store is
    /// written only when it changes.
    agent_addresses: std::sync::Mutex<std::collections::HashMap<i64, std::net::IpAddr>>,
    /// API tokens looked up lately; cleared by revocations and user
    /// changes (see `tokens::cache`).
    tokens: tokens::cache::TokenCache,
}

/// What operations need; cheap to clone.
#[derive(Clone)]
pub struct Ops(Arc<Inner>);

impl Ops {
    pub fn new(store: Store, clock: Clock, tasks: Hub, series: Arc<SeriesLimiter>) -> Self {
        Self(Arc::new(Inner {
            store,
            clock,
            tasks,
            series,
            alerting: OnceLock::new(),
            telegram: OnceLock::new(),
            user_tasks: RateLimiter::keyed(Quota::per_second(nz(5)).allow_burst(nz(20))),
            agent_addresses: Default::default(),
            tokens: Default::default(),
        }))
    }

    /// The rule engine, once it is loaded (it is built after the store).
    pub fn set_alerting(
        &self,
        a: Arc<Alerting>,
        telegram: crate::alerting::service::TelegramSettings,
    ) {
        let _ = self.0.alerting.set(a);
        let _ = self.0.telegram.set(telegram);
    }

    /// The address an agent was last seen from, as remembered here.
    pub(crate) fn agent_addresses(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, std::net::IpAddr>> {
        self.0.agent_addresses.lock().expect("agent addresses lock")
    }

    pub fn alerting(&self) -> Option<&Arc<Alerting>> {
        self.0.alerting.get()
    }

    pub fn telegram(&self) -> Option<&crate::alerting::service::TelegramSettings> {
        self.0.telegram.get()
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    pub fn now_ms(&self) -> i64 {
        self.0.clock.now_ms()
    }

    pub fn tasks(&self) -> &Hub {
        &self.0.tasks
    }

    pub fn series_limiter(&self) -> &SeriesLimiter {
        &self.0.series
    }

    /// Refuses a user who queues agent work faster than a person would.
    fn limit_user_tasks(&self, user: &str) -> OpResult<()> {
        match self.0.user_tasks.check_key(&user.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => Err(OpError::Limited(
                "too many log fetches".into(),
                not_until.wait_time_from(DefaultClock::default().now()),
            )),
        }
    }

    /// Forgets rate-limit keys back to a full quota (run every minute).
    pub fn forget_idle_limits(&self) {
        self.0.user_tasks.retain_recent();
        self.0.user_tasks.shrink_to_fit();
    }

    fn require(actor: &Actor, role: Role) -> OpResult<()> {
        if actor.role >= role {
            Ok(())
        } else {
            Err(OpError::Forbidden(role))
        }
    }

    /// Records what `actor` did. A failed audit write is logged, not
    /// fatal: the operation itself already happened.
    pub async fn audit(&self, actor: &Actor, action: &str, target: Option<String>) {
        let e = AuditEntry {
            ts_ms: self.now_ms(),
            actor: actor.name.clone(),
            action: action.to_string(),
            target,
            detail: actor.detail(),
            ip: actor.ip(),
        };
        if let Err(err) = self.0.store.audit(&e).await {
            tracing::error!(error = %err, action, "audit write failed");
        }
    }
}
