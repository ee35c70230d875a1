//! Users, sessions and the audit log, written once for both backends
//! (`storage::sql`).

use super::{AuditEntry, Result, Role, SessionRecord, StorageError, UserRecord};
use async_trait::async_trait;

#[async_trait]
pub trait Accounts: Send + Sync {
    async fn user_count(&self) -> Result<i64>;
    /// Creates a user; None when the name is taken (case-insensitively).
    /// With `only_if_none`, creates it only while no user exists (setup).
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        only_if_none: bool,
        now_ms: i64,
    ) -> Result<Option<i64>>;
    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>>;
    async fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>>;
    async fn list_users(&self) -> Result<Vec<UserRecord>>;
    /// Password, role or disabled change; every change revokes the user's
    /// sessions in the same transaction.
    async fn update_user(
        &self,
        id: i64,
        password_hash: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
        now_ms: i64,
    ) -> Result<bool>;
    async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<()>;
    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>>;
    async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<()>;
    async fn revoke_session(&self, id_hash: &str, now_ms: i64) -> Result<()>;
    async fn revoke_user_sessions(&self, user_id: i64, now_ms: i64) -> Result<u64>;
    async fn audit(&self, e: &AuditEntry) -> Result<()>;
    /// Newest first.
    async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>>;
}

pub type UserRow = (i64, String, String, String, bool, i64, i64);

pub fn user(r: UserRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: r.0,
        username: r.1,
        password_hash: r.2,
        role: Role::parse(&r.3)
            .ok_or_else(|| StorageError::Other(format!("bad role {:?}", r.3)))?,
        disabled: r.4,
        created_ms: r.5,
        updated_ms: r.6,
    })
}

pub const USER_COLS: &str = "id, username, password_hash, role, disabled, created_ms, updated_ms";

/// Every store with a [`crate::storage::sql::Db`] has accounts.
#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::accounts::Accounts for T {
    async fn user_count(&self) -> crate::storage::Result<i64> {
        Ok(self.db().sql("SELECT count(*) FROM users").scalar().await?)
    }

    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: crate::storage::Role,
        only_if_none: bool,
        now_ms: i64,
    ) -> crate::storage::Result<Option<i64>> {
        let mut tx = self.db().begin().await?;
        let taken: i64 = tx
            .sql("SELECT count(*) FROM users WHERE lower(username) = lower(?)")
            .bind(username)
            .scalar()
            .await?;
        let any: i64 = tx.sql("SELECT count(*) FROM users").scalar().await?;
        if taken > 0 || (only_if_none && any > 0) {
            return Ok(None);
        }
        let id: i64 = tx.sql("INSERT INTO users (username, password_hash, role, disabled, created_ms, updated_ms) VALUES (?, ?, ?, FALSE, ?, ?) RETURNING id")
            .bind(username).bind(password_hash).bind(role.as_str()).bind(now_ms).bind(now_ms)
            .scalar().await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    async fn user_by_name(
        &self,
        username: &str,
    ) -> crate::storage::Result<Option<crate::storage::UserRecord>> {
        let sql = format!(
            "SELECT {} FROM users WHERE lower(username) = lower(?)",
            crate::storage::accounts::USER_COLS
        );
        let row: Option<crate::storage::accounts::UserRow> =
            self.db().sql(&sql).bind(username).fetch_optional().await?;
        row.map(crate::storage::accounts::user).transpose()
    }

    async fn user_by_id(
        &self,
        id: i64,
    ) -> crate::storage::Result<Option<crate::storage::UserRecord>> {
        let sql = format!(
            "SELECT {} FROM users WHERE id = ?",
            crate::storage::accounts::USER_COLS
        );
        let row: Option<crate::storage::accounts::UserRow> =
            self.db().sql(&sql).bind(id).fetch_optional().await?;
        row.map(crate::storage::accounts::user).transpose()
    }

    async fn list_users(&self) -> crate::storage::Result<Vec<crate::storage::UserRecord>> {
        let sql = format!(
            "SELECT {} FROM users ORDER BY lower(username)",
            crate::storage::accounts::USER_COLS
        );
        let rows: Vec<crate::storage::accounts::UserRow> = self.db().sql(&sql).fetch_all().await?;
        rows.into_iter()
            .map(crate::storage::accounts::user)
            .collect()
    }

    async fn update_user(
        &self,
        id: i64,
        password_hash: Option<&str>,
        role: Option<crate::storage::Role>,
        disabled: Option<bool>,
        now_ms: i64,
    ) -> crate::storage::Result<bool> {
        let mut tx = self.db().begin().await?;
        let n = tx.sql("UPDATE users SET password_hash = COALESCE(?, password_hash), role = COALESCE(?, role), disabled = COALESCE(?, disabled), updated_ms = ? WHERE id = ?")
            .bind(password_hash).bind(role.map(|r| r.as_str())).bind(disabled).bind(now_ms).bind(id)
            .execute().await?;
        tx.sql("UPDATE sessions SET revoked_ms = ? WHERE user_id = ? AND revoked_ms IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute()
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        now_ms: i64,
        expires_ms: i64,
    ) -> crate::storage::Result<()> {
        self.db().sql("INSERT INTO sessions (id_hash, user_id, created_ms, last_seen_ms, expires_ms) VALUES (?, ?, ?, ?, ?)")
            .bind(id_hash).bind(user_id).bind(now_ms).bind(now_ms).bind(expires_ms)
            .execute().await?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: &str,
    ) -> crate::storage::Result<Option<crate::storage::SessionRecord>> {
        let row: Option<(i64, i64, i64, i64, Option<i64>)> = self.db().sql("SELECT user_id, created_ms, last_seen_ms, expires_ms, revoked_ms FROM sessions WHERE id_hash = ?")
            .bind(id_hash).fetch_optional().await?;
        Ok(row.map(|r| crate::storage::SessionRecord {
            user_id: r.0,
            created_ms: r.1,
            last_seen_ms: r.2,
            expires_ms: r.3,
            revoked_ms: r.4,
        }))
    }

    async fn touch_session(&self, id_hash: &str, now_ms: i64) -> crate::storage::Result<()> {
        self.db()
            .sql("UPDATE sessions SET last_seen_ms = ? WHERE id_hash = ? AND last_seen_ms < ?")
            .bind(now_ms)
            .bind(id_hash)
            .bind(now_ms)
            .execute()
            .await?;
        Ok(())
    }

    async fn revoke_session(&self, id_hash: &str, now_ms: i64) -> crate::storage::Result<()> {
        self.db()
            .sql("UPDATE sessions SET revoked_ms = ? WHERE id_hash = ? AND revoked_ms IS NULL")
            .bind(now_ms)
            .bind(id_hash)
            .execute()
            .await?;
        Ok(())
    }

    async fn revoke_user_sessions(&self, user_id: i64, now_ms: i64) -> crate::storage::Result<u64> {
        Ok(self
            .db()
            .sql("UPDATE sessions SET revoked_ms = ? WHERE user_id = ? AND revoked_ms IS NULL")
            .bind(now_ms)
            .bind(user_id)
            .execute()
            .await?)
    }

    async fn audit(&self, e: &crate::storage::AuditEntry) -> crate::storage::Result<()> {
        self.db().sql("INSERT INTO audit_log (ts_ms, actor, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(e.ts_ms).bind(&e.actor).bind(&e.action).bind(&e.target).bind(&e.detail).bind(&e.ip)
            .execute().await?;
        Ok(())
    }

    async fn audit_log(
        &self,
        limit: i64,
    ) -> crate::storage::Result<Vec<crate::storage::AuditEntry>> {
        let rows: Vec<(i64, String, String, Option<String>, Option<String>, Option<String>)> = self.db().sql("SELECT ts_ms, actor, action, target, detail, ip FROM audit_log ORDER BY id DESC LIMIT ?")
            .bind(limit).fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(|r| crate::storage::AuditEntry {
                ts_ms: r.0,
                actor: r.1,
                action: r.2,
                target: r.3,
                detail: r.4,
                ip: r.5,
            })
            .collect())
    }
}
