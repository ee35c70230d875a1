//! Agents and enrolment tokens: mint a token, revoke every token, revoke
//! an agent (admins; the page and the CLI alike, both audited).

use super::{Actor, OpError, OpResult, Ops};
use crate::auth;
use crate::storage::Role;

/// Limits for a new enrolment token; None is no limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenLimits {
    pub hours: Option<i64>,
    pub uses: Option<i64>,
}

impl TokenLimits {
    /// From form fields: empty means no limit; anything else is a whole
    /// number from 1 to 1,000,000.
    pub fn parse(hours: Option<&str>, uses: Option<&str>) -> OpResult<Self> {
        let positive = |v: Option<&str>| -> OpResult<Option<i64>> {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .map(Some)
                    .ok_or_else(|| {
                        OpError::Invalid(
                            "Hours and uses must be whole numbers from 1, or empty for no limit."
                                .into(),
                        )
                    }),
            }
        };
        Ok(Self {
            hours: positive(hours)?,
            uses: positive(uses)?,
        })
    }
}

/// Creates an enrolment token and returns it (shown once, stored hashed).
pub async fn new_enroll_token(ops: &Ops, actor: &Actor, limits: TokenLimits) -> OpResult<String> {
    Ops::require(actor, Role::Admin)?;
    let token = auth::generate(auth::ENROLL_TOKEN_PREFIX);
    let now = ops.now_ms();
    let expires = limits.hours.map(|h| now + h * 3_600_000);
    ops.store()
        .create_enroll_token_limited(&auth::hash_secret(&token), now, expires, limits.uses)
        .await?;
    ops.audit(actor, "enroll_token.create", None).await;
    Ok(token)
}

/// Revokes every live enrolment token; returns how many.
pub async fn revoke_enroll_tokens(ops: &Ops, actor: &Actor) -> OpResult<u64> {
    Ops::require(actor, Role::Admin)?;
    let n = ops.store().revoke_enroll_tokens(ops.now_ms()).await?;
    ops.audit(actor, "enroll_token.revoke_all", Some(n.to_string()))
        .await;
    Ok(n)
}

/// Enrols an agent with an enrolment token (anyone may try; the token
/// decides): a new agent, or a revoked one under the same name re-keyed.
/// Its series quota starts empty either way. Returns the id and the key
/// (shown once, stored hashed).
pub async fn enroll(
    ops: &Ops,
    token: &str,
    name: &str,
    inventory: Option<serde_json::Value>,
    capabilities: Option<&dozor_common::protocol::Capabilities>,
) -> OpResult<(i64, String)> {
    if !valid_agent_name(name) {
        return Err(OpError::Invalid(
            "agent name must be 1-64 characters of letters, digits, '.', '-' or '_'".into(),
        ));
    }
    if !ops
        .store()
        .consume_enroll_token(&auth::hash_secret(token), ops.now_ms())
        .await?
    {
        tracing::warn!(agent = %name, "enrolment with an invalid, revoked, expired or used-up token");
        return Err(OpError::Forbidden(Role::Admin));
    }
    let key = auth::generate(auth::AGENT_KEY_PREFIX);
    let new = crate::storage::NewAgent {
        name: name.to_string(),
        key_hash: auth::hash_secret(&key),
        kind: "remote".into(),
        inventory,
    };
    match ops.store().create_agent(&new, ops.now_ms()).await? {
        crate::storage::CreateAgent::Created(id) => {
            ops.series_limiter().forget(id);
            if let Some(c) = capabilities {
                ops.store().record_capabilities(id, c).await?;
            }
            let who = Actor {
                id: None,
                name: format!("agent:{name}"),
                role: Role::Viewer,
                origin: super::Origin::System,
            };
            ops.audit(&who, "agent.enroll", Some(name.to_string())).await;
            tracing::info!(agent = %name, id, "agent enrolled");
            Ok((id, key))
        }
        crate::storage::CreateAgent::NameTaken => Err(OpError::Conflict(format!(
            "an agent named {name:?} is already enrolled; start the collector with another --name, or revoke the old one with `dozor-server agents revoke {name}`"
        ))),
    }
}

/// Agent names become the `host` label and URL path segments.
pub fn valid_agent_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Revokes an agent's key: its next request is refused, and its series
/// quota is released. NotFound when no live agent has that name.
pub async fn revoke_agent(ops: &Ops, actor: &Actor, name: &str) -> OpResult<()> {
    Ops::require(actor, Role::Admin)?;
    let agent = ops.store().agent_by_name(name).await?;
    if !ops.store().revoke_agent(name, ops.now_ms()).await? {
        return Err(OpError::NotFound(format!("no live agent named {name}")));
    }
    if let Some(a) = agent {
        ops.series_limiter().forget(a.id);
    }
    ops.audit(actor, "agent.revoke", Some(name.to_string()))
        .await;
    Ok(())
}
