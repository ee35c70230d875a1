//! API tokens: scoped secrets for scripts, Grafana and remote_write. The
//! table keeps the SHA-256 of each token (it has full entropy, so a fast
//! hash is right), the owner, the scope, and expiry, last use and
//! revocation times. Written once for both backends (`storage::sql`).

use super::{Result, Role, StorageError};
use async_trait::async_trait;
use serde::Serialize;

/// What a token may do: admin ⊃ write ⊃ read. A token never does more
/// than its owner's role allows at the time of use (see [`Scope::cap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// The most a user of `role` may hold: viewers read, editors also
    /// write, admins everything.
    pub fn for_role(role: Role) -> Scope {
        match role {
            Role::Viewer => Scope::Read,
            Role::Editor => Scope::Write,
            Role::Admin => Scope::Admin,
        }
    }

    /// This scope limited by the owner's current role, so demoting a user
    /// narrows their tokens at once.
    pub fn cap(self, role: Role) -> Scope {
        self.min(Scope::for_role(role))
    }
}

/// A token as listed (never the secret, which only its creator saw once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub user_role: Role,
    pub user_disabled: bool,
    pub name: String,
    pub scope: Scope,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

impl ApiTokenRecord {
    /// Usable at `now`: not revoked, not expired, owner not disabled.
    pub fn live(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none()
            && self.expires_ms.is_none_or(|e| now_ms < e)
            && !self.user_disabled
    }
}

#[async_trait]
pub trait ApiTokens: Send + Sync {
    #[allow(clippy::too_many_arguments)]
    async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        scope: Scope,
        now_ms: i64,
        expires_ms: Option<i64>,
    ) -> Result<i64>;
    /// The token with this hash, whatever its state (callers check `live`).
    async fn api_token(&self, token_hash: &str) -> Result<Option<ApiTokenRecord>>;
    /// One user's tokens, or everyone's with None; newest first.
    async fn list_api_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiTokenRecord>>;
    /// Revokes token `id`, only if it belongs to `user_id` when given.
    async fn revoke_api_token(&self, id: i64, user_id: Option<i64>, now_ms: i64) -> Result<bool>;
    async fn touch_api_token(&self, id: i64, now_ms: i64) -> Result<()>;
}

pub type TokenRow = (
    i64,
    i64,
    String,
    String,
    bool,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

pub const TOKEN_SELECT: &str = "SELECT t.id, t.user_id, u.username, u.role, u.disabled, t.name, t.scope, t.created_ms, t.expires_ms, t.last_used_ms, t.revoked_ms FROM api_tokens t JOIN users u ON u.id = t.user_id";

pub fn record(r: TokenRow) -> Result<ApiTokenRecord> {
    Ok(ApiTokenRecord {
        id: r.0,
        user_id: r.1,
        username: r.2,
        user_role: Role::parse(&r.3)
            .ok_or_else(|| StorageError::Other(format!("bad role {:?}", r.3)))?,
        user_disabled: r.4,
        name: r.5,
        scope: Scope::parse(&r.6)
            .ok_or_else(|| StorageError::Other(format!("bad scope {:?}", r.6)))?,
        created_ms: r.7,
        expires_ms: r.8,
        last_used_ms: r.9,
        revoked_ms: r.10,
    })
}

#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::api_tokens::ApiTokens for T {
    async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        scope: crate::storage::Scope,
        now_ms: i64,
        expires_ms: Option<i64>,
    ) -> crate::storage::Result<i64> {
        Ok(self.db().sql("INSERT INTO api_tokens (user_id, name, token_hash, scope, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING id")
            .bind(user_id).bind(name).bind(token_hash).bind(scope.as_str()).bind(now_ms).bind(expires_ms)
            .on_writer().scalar().await?)
    }

    async fn api_token(
        &self,
        token_hash: &str,
    ) -> crate::storage::Result<Option<crate::storage::ApiTokenRecord>> {
        let sql = format!(
            "{} WHERE t.token_hash = ?",
            crate::storage::api_tokens::TOKEN_SELECT
        );
        let row: Option<crate::storage::api_tokens::TokenRow> = self
            .db()
            .sql(&sql)
            .bind(token_hash)
            .fetch_optional()
            .await?;
        row.map(crate::storage::api_tokens::record).transpose()
    }

    async fn list_api_tokens(
        &self,
        user_id: Option<i64>,
    ) -> crate::storage::Result<Vec<crate::storage::ApiTokenRecord>> {
        let sql = format!(
            "{} WHERE (CAST(? AS BIGINT) IS NULL OR t.user_id = ?) ORDER BY t.id DESC",
            crate::storage::api_tokens::TOKEN_SELECT
        );
        let rows: Vec<crate::storage::api_tokens::TokenRow> = self
            .db()
            .sql(&sql)
            .bind(user_id)
            .bind(user_id)
            .fetch_all()
            .await?;
        rows.into_iter()
            .map(crate::storage::api_tokens::record)
            .collect()
    }

    async fn revoke_api_token(
        &self,
        id: i64,
        user_id: Option<i64>,
        now_ms: i64,
    ) -> crate::storage::Result<bool> {
        Ok(self.db().sql("UPDATE api_tokens SET revoked_ms = ? WHERE id = ? AND (CAST(? AS BIGINT) IS NULL OR user_id = ?) AND revoked_ms IS NULL")
            .bind(now_ms).bind(id).bind(user_id).bind(user_id)
            .execute().await? > 0)
    }

    async fn touch_api_token(&self, id: i64, now_ms: i64) -> crate::storage::Result<()> {
        self.db()
            .sql("UPDATE api_tokens SET last_used_ms = ? WHERE id = ?")
            .bind(now_ms)
            .bind(id)
            .execute()
            .await?;
        Ok(())
    }
}
