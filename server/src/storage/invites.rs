//! Invitations: an admin creates a one-time link with a role and an
//! expiry; whoever opens it picks a name and password. Accepting checks
//! the invite, creates the user and marks the invite used in one
//! transaction, so a link never makes two users.

use super::{Result, Role, StorageError};
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRecord {
    pub id: i64,
    pub role: Role,
    pub created_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// The new user's id and role.
    Created(i64, Role),
    NameTaken,
    /// Unknown, used, revoked or expired.
    Invalid,
}

#[async_trait]
pub trait Invites: Send + Sync {
    async fn create_invite(
        &self,
        token_hash: &str,
        role: Role,
        created_by: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<i64>;
    /// The invite if it can still be accepted at `now_ms`.
    async fn open_invite(&self, token_hash: &str, now_ms: i64) -> Result<Option<InviteRecord>>;
    /// Invites that can still be accepted, newest first.
    async fn pending_invites(&self, now_ms: i64) -> Result<Vec<InviteRecord>>;
    async fn revoke_invite(&self, id: i64, now_ms: i64) -> Result<bool>;
    async fn accept_invite(
        &self,
        token_hash: &str,
        username: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<Accepted>;
}

pub type InviteRow = (i64, String, String, i64, i64);

pub const OPEN: &str = "used_ms IS NULL AND revoked_ms IS NULL AND expires_ms > ?";

pub fn record(r: InviteRow) -> Result<InviteRecord> {
    Ok(InviteRecord {
        id: r.0,
        role: Role::parse(&r.1)
            .ok_or_else(|| StorageError::Other(format!("bad role {:?}", r.1)))?,
        created_by: r.2,
        created_ms: r.3,
        expires_ms: r.4,
    })
}

#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::invites::Invites for T {
    async fn create_invite(
        &self,
        token_hash: &str,
        role: crate::storage::Role,
        created_by: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> crate::storage::Result<i64> {
        Ok(self.db().sql("INSERT INTO invites (token_hash, role, created_by, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?) RETURNING id")
            .bind(token_hash).bind(role.as_str()).bind(created_by).bind(now_ms).bind(expires_ms)
            .on_writer().scalar().await?)
    }

    async fn open_invite(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> crate::storage::Result<Option<crate::storage::invites::InviteRecord>> {
        let sql = format!("SELECT id, role, created_by, created_ms, expires_ms FROM invites WHERE token_hash = ? AND {}", crate::storage::invites::OPEN);
        let row: Option<crate::storage::invites::InviteRow> = self
            .db()
            .sql(&sql)
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional()
            .await?;
        row.map(crate::storage::invites::record).transpose()
    }

    async fn pending_invites(
        &self,
        now_ms: i64,
    ) -> crate::storage::Result<Vec<crate::storage::invites::InviteRecord>> {
        let sql = format!("SELECT id, role, created_by, created_ms, expires_ms FROM invites WHERE {} ORDER BY id DESC", crate::storage::invites::OPEN);
        let rows: Vec<crate::storage::invites::InviteRow> =
            self.db().sql(&sql).bind(now_ms).fetch_all().await?;
        rows.into_iter()
            .map(crate::storage::invites::record)
            .collect()
    }

    async fn revoke_invite(&self, id: i64, now_ms: i64) -> crate::storage::Result<bool> {
        Ok(self.db().sql("UPDATE invites SET revoked_ms = ? WHERE id = ? AND used_ms IS NULL AND revoked_ms IS NULL")
            .bind(now_ms).bind(id).execute().await? > 0)
    }

    async fn accept_invite(
        &self,
        token_hash: &str,
        username: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> crate::storage::Result<crate::storage::invites::Accepted> {
        use crate::storage::invites::Accepted;
        let mut tx = self.db().begin().await?;
        let sql = format!(
            "SELECT role FROM invites WHERE token_hash = ? AND {}",
            crate::storage::invites::OPEN
        );
        let role: Option<String> = tx
            .sql(&sql)
            .bind(token_hash)
            .bind(now_ms)
            .scalar_optional()
            .await?;
        let Some(role) = role.as_deref().and_then(crate::storage::Role::parse) else {
            return Ok(Accepted::Invalid);
        };
        let taken: i64 = tx
            .sql("SELECT count(*) FROM users WHERE lower(username) = lower(?)")
            .bind(username)
            .scalar()
            .await?;
        if taken > 0 {
            return Ok(Accepted::NameTaken);
        }
        // Claim the invite first: a concurrent accept then finds it used.
        let claimed = tx
            .sql(&format!(
                "UPDATE invites SET used_ms = ?, used_by = ? WHERE token_hash = ? AND {}",
                crate::storage::invites::OPEN
            ))
            .bind(now_ms)
            .bind(username)
            .bind(token_hash)
            .bind(now_ms)
            .execute()
            .await?;
        if claimed == 0 {
            return Ok(Accepted::Invalid);
        }
        let id: i64 = tx.sql("INSERT INTO users (username, password_hash, role, disabled, created_ms, updated_ms) VALUES (?, ?, ?, FALSE, ?, ?) RETURNING id")
            .bind(username).bind(password_hash).bind(role.as_str()).bind(now_ms).bind(now_ms)
            .scalar().await?;
        tx.commit().await?;
        Ok(Accepted::Created(id, role))
    }
}
