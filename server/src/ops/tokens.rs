//! API tokens: created by their owner (the Account page) or for a user
//! from the command line, never with more scope than the owner's role;
//! revoked by the owner or an admin. Shown once, stored hashed.

pub mod cache;

use super::{Actor, OpError, OpResult, Ops};
use crate::auth;
use crate::storage::{ApiTokenRecord, Role, Scope};

/// Last use is recorded at most once a minute per token.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Longest life a token can be given.
pub const MAX_EXPIRY_DAYS: u64 = 3650;

/// Creates a token owned by `owner` (a username; the actor's own on the
/// Account page). Returns the secret.
pub async fn create(
    ops: &Ops,
    actor: &Actor,
    owner: &str,
    name: &str,
    scope: Scope,
    expires: Option<std::time::Duration>,
) -> OpResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(OpError::Invalid(
            "Token names are 1–64 printable characters.".into(),
        ));
    }
    if let Some(d) = expires {
        if d.is_zero() || d.as_secs() > MAX_EXPIRY_DAYS * 86_400 {
            return Err(OpError::Invalid(format!(
                "Expiry is at most {MAX_EXPIRY_DAYS} days, or empty for never."
            )));
        }
    }
    let Some(user) = ops.store().user_by_name(owner).await? else {
        return Err(OpError::NotFound(format!("no user named {owner:?}")));
    };
    // Only admins make tokens for someone else.
    if actor.id != Some(user.id) {
        Ops::require(actor, Role::Admin)?;
    }
    if user.disabled {
        return Err(OpError::Invalid(format!("user {owner:?} is disabled")));
    }
    if scope > Scope::for_role(user.role) {
        return Err(OpError::Invalid(format!(
            "A {} cannot hold {} tokens.",
            user.role.as_str(),
            scope.as_str()
        )));
    }
    let now = ops.now_ms();
    let token = auth::generate(auth::API_TOKEN_PREFIX);
    let expires = expires.map(|d| now + d.as_millis() as i64);
    ops.store()
        .create_api_token(
            user.id,
            name,
            &auth::hash_secret(&token),
            scope,
            now,
            expires,
        )
        .await?;
    ops.audit(
        actor,
        "token.create",
        Some(format!("{name} ({})", scope.as_str())),
    )
    .await;
    Ok(token)
}

/// Revokes a token: its owner's, or any for an admin.
pub async fn revoke(ops: &Ops, actor: &Actor, id: i64) -> OpResult<()> {
    let owner = if actor.role >= Role::Admin {
        None
    } else {
        Some(actor.id.ok_or(OpError::Forbidden(Role::Admin))?)
    };
    if !ops
        .store()
        .revoke_api_token(id, owner, ops.now_ms())
        .await?
    {
        return Err(OpError::NotFound("No such token of yours.".into()));
    }
    ops.0.tokens.clear();
    ops.audit(actor, "token.revoke", Some(format!("#{id}")))
        .await;
    Ok(())
}

/// The live token whose secret was presented, or None (unknown, revoked,
/// expired, or its owner disabled). Records its use once a minute.
pub async fn authenticate(ops: &Ops, secret: &str) -> OpResult<Option<ApiTokenRecord>> {
    let hash = auth::hash_secret(secret);
    let now = ops.now_ms();
    let cache = &ops.0.tokens;
    let rec = match cache.get(&hash) {
        Some(r) => r,
        None => {
            let generation = cache.generation();
            let Some(r) = ops.store().api_token(&hash).await? else {
                return Ok(None);
            };
            cache.put(generation, &hash, r.clone());
            r
        }
    };
    if !rec.live(now) {
        return Ok(None);
    }
    if rec.last_used_ms.is_none_or(|l| now - l >= TOUCH_EVERY_MS) {
        match ops.store().touch_api_token(rec.id, now).await {
            Ok(()) => cache.used(&hash, now),
            Err(e) => tracing::warn!(error = %e, "could not record token use"),
        }
    }
    Ok(Some(rec))
}
