//! Users, their passwords and invitations. Admins create users, set roles,
//! reset passwords, disable and enable (never the last admin) and invite;
//! anyone changes their own password; an invitation's holder creates their
//! account. Every change that touches a user revokes their sessions
//! (storage does that in the same transaction). Hashing runs off the
//! async threads.

use super::{Actor, OpError, OpResult, Ops};
use crate::auth::{self, password};
use crate::storage::{Accepted, Role};

/// What is wrong with a new account's name or password, if anything.
pub fn new_account_problem(username: &str, pw: &str) -> Option<String> {
    if username.is_empty() || username.len() > 64 || username.chars().any(char::is_control) {
        Some("Usernames are 1–64 printable characters.".to_string())
    } else {
        password::check_policy(pw).err().map(|e| format!("{e}."))
    }
}

fn account(username: &str, pw: &str) -> OpResult<()> {
    match new_account_problem(username, pw) {
        Some(p) => Err(OpError::Invalid(p)),
        None => Ok(()),
    }
}

/// Creates a user; returns the id.
pub async fn create(
    ops: &Ops,
    actor: &Actor,
    username: &str,
    pw: &str,
    role: Role,
) -> OpResult<i64> {
    Ops::require(actor, Role::Admin)?;
    let username = username.trim();
    account(username, pw)?;
    let hash = password::hash_off_thread(pw).await;
    let Some(id) = ops
        .store()
        .create_user(username, &hash, role, false, ops.now_ms())
        .await?
    else {
        return Err(OpError::Conflict(format!(
            "A user named {username} exists."
        )));
    };
    ops.audit(actor, "user.create", Some(username.to_string()))
        .await;
    Ok(id)
}

/// The first admin, with the one-time setup link (checked by the caller);
/// None when an admin exists already.
pub async fn create_first_admin(
    ops: &Ops,
    actor: &Actor,
    username: &str,
    pw: &str,
) -> OpResult<Option<i64>> {
    let username = username.trim();
    account(username, pw)?;
    let hash = password::hash_off_thread(pw).await;
    let id = ops
        .store()
        .create_user(username, &hash, Role::Admin, true, ops.now_ms())
        .await?;
    if id.is_some() {
        ops.audit(actor, "user.create", Some(username.to_string()))
            .await;
    }
    Ok(id)
}

/// A change an admin makes to a user.
#[derive(Debug, Clone)]
pub enum Change {
    Role(Role),
    Password(String),
    Disable,
    Enable,
}

/// True when `id` is the only enabled admin.
async fn last_admin(ops: &Ops, id: i64) -> OpResult<bool> {
    let users = ops.store().list_users().await?;
    Ok(!users
        .iter()
        .any(|u| u.id != id && u.role == Role::Admin && !u.disabled))
}

pub async fn change(ops: &Ops, actor: &Actor, id: i64, change: Change) -> OpResult<()> {
    Ops::require(actor, Role::Admin)?;
    let Some(target) = ops.store().user_by_id(id).await? else {
        return Err(OpError::NotFound("No such user.".into()));
    };
    let demotes = match &change {
        Change::Role(r) => *r < Role::Admin,
        Change::Disable => true,
        _ => false,
    };
    if demotes && target.role == Role::Admin && last_admin(ops, id).await? {
        return Err(OpError::Conflict(match change {
            Change::Disable => "The last admin cannot be disabled.".into(),
            _ => "The last admin cannot be demoted.".into(),
        }));
    }
    let (pw_hash, role, disabled, verb) = match change {
        Change::Role(r) => (None, Some(r), None, "user.role"),
        Change::Password(pw) => {
            password::check_policy(&pw).map_err(|e| OpError::Invalid(format!("{e}.")))?;
            (
                Some(password::hash_off_thread(&pw).await),
                None,
                None,
                "user.password",
            )
        }
        Change::Disable => (None, None, Some(true), "user.disable"),
        Change::Enable => (None, None, Some(false), "user.enable"),
    };
    ops.store()
        .update_user(id, pw_hash.as_deref(), role, disabled, ops.now_ms())
        .await?;
    // A role caps its tokens' scope, and a disabled user's tokens stop.
    ops.0.tokens.clear();
    ops.audit(actor, verb, Some(target.username)).await;
    Ok(())
}

/// Changes the actor's own password after checking the current one. All
/// their sessions end; the caller starts a fresh one for this browser.
pub async fn change_own_password(
    ops: &Ops,
    actor: &Actor,
    current: &str,
    new: &str,
) -> OpResult<()> {
    let Some(id) = actor.id else {
        return Err(OpError::Forbidden(Role::Viewer));
    };
    let Some(user) = ops.store().user_by_id(id).await? else {
        return Err(OpError::Forbidden(Role::Viewer));
    };
    if !password::verify_off_thread(current, &user.password_hash).await {
        ops.audit(actor, "user.password.failure", Some(actor.name.clone()))
            .await;
        return Err(OpError::Invalid("The current password is wrong.".into()));
    }
    password::check_policy(new).map_err(|e| OpError::Invalid(format!("{e}.")))?;
    if new == current {
        return Err(OpError::Invalid(
            "The new password is the current one.".into(),
        ));
    }
    let hash = password::hash_off_thread(new).await;
    ops.store()
        .update_user(id, Some(&hash), None, None, ops.now_ms())
        .await?;
    ops.audit(actor, "user.password", Some(actor.name.clone()))
        .await;
    Ok(())
}

/// Creates an invitation for a new user of `role`, valid `hours` (1–720,
/// default 72); returns the secret for the link (shown once).
pub async fn invite(ops: &Ops, actor: &Actor, role: Role, hours: Option<i64>) -> OpResult<String> {
    Ops::require(actor, Role::Admin)?;
    let hours = hours.unwrap_or(72);
    if !(1..=720).contains(&hours) {
        return Err(OpError::Invalid(
            "Expiry is a whole number of hours from 1 to 720.".into(),
        ));
    }
    let now = ops.now_ms();
    let token = auth::generate(auth::INVITE_PREFIX);
    ops.store()
        .create_invite(
            &auth::hash_secret(&token),
            role,
            &actor.name,
            now,
            now + hours * 3_600_000,
        )
        .await?;
    ops.audit(actor, "invite.create", Some(role.as_str().to_string()))
        .await;
    Ok(token)
}

pub async fn revoke_invite(ops: &Ops, actor: &Actor, id: i64) -> OpResult<()> {
    Ops::require(actor, Role::Admin)?;
    if !ops.store().revoke_invite(id, ops.now_ms()).await? {
        return Err(OpError::NotFound("No such pending invitation.".into()));
    }
    ops.audit(actor, "invite.revoke", Some(format!("#{id}")))
        .await;
    Ok(())
}

/// Creates the account an invitation is for and consumes it, in one
/// transaction. NotFound when the invitation is not (or no longer) valid.
pub async fn accept_invite(
    ops: &Ops,
    actor: &Actor,
    token: &str,
    username: &str,
    pw: &str,
) -> OpResult<(i64, Role)> {
    let username = username.trim();
    account(username, pw)?;
    let hash = password::hash_off_thread(pw).await;
    match ops
        .store()
        .accept_invite(&auth::hash_secret(token), username, &hash, ops.now_ms())
        .await?
    {
        Accepted::Created(id, role) => {
            let who = Actor {
                name: username.to_string(),
                ..actor.clone()
            };
            ops.audit(
                &who,
                "invite.accept",
                Some(format!("{username} ({})", role.as_str())),
            )
            .await;
            Ok((id, role))
        }
        Accepted::NameTaken => Err(OpError::Conflict(
            "That username is taken; choose another.".into(),
        )),
        Accepted::Invalid => Err(OpError::NotFound("This invitation is not valid.".into())),
    }
}
