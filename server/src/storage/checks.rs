//! Checks, implemented once for both backends: one row per check, its
//! settings as JSON.

use super::sql::HasDb;
use super::Result;
use async_trait::async_trait;
use dozor_common::checks::Check;

#[async_trait]
pub trait CheckStore: Send + Sync {
    /// Every check, by name.
    async fn checks(&self) -> Result<Vec<Check>>;
    /// Creates or replaces a check.
    async fn save_check(&self, c: &Check, by: &str, now_ms: i64) -> Result<()>;
    /// False when there was none.
    async fn delete_check(&self, name: &str) -> Result<bool>;
}

#[async_trait]
impl<T: HasDb> CheckStore for T {
    async fn checks(&self) -> Result<Vec<Check>> {
        let rows: Vec<String> = self
            .db()
            .sql("SELECT spec FROM checks ORDER BY name")
            .scalars()
            .await?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(r).map_err(|e| {
                    super::StorageError::Other(format!("a stored check cannot be read: {e}"))
                })
            })
            .collect()
    }

    async fn save_check(&self, c: &Check, by: &str, now_ms: i64) -> Result<()> {
        let spec = serde_json::to_string(c).expect("checks serialise");
        self.db()
            .sql("INSERT INTO checks (name, spec, updated_by, updated_ms) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_by = excluded.updated_by, updated_ms = excluded.updated_ms")
            .bind(c.name.as_str())
            .bind(spec)
            .bind(by)
            .bind(now_ms)
            .on_writer()
            .execute()
            .await?;
        Ok(())
    }

    async fn delete_check(&self, name: &str) -> Result<bool> {
        let n = self
            .db()
            .sql("DELETE FROM checks WHERE name = ?")
            .bind(name)
            .on_writer()
            .execute()
            .await?;
        Ok(n > 0)
    }
}
