//! Metric metadata (type, help, unit), the latest report per metric
//! family. Implemented once for both backends.

use super::Result;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MetadataEntry {
    pub metric: String,
    /// Prometheus's type name: counter, gauge, histogram, summary, …
    pub kind: String,
    pub help: String,
    pub unit: String,
}

#[async_trait]
pub trait Metadata: Send + Sync {
    /// Keeps these as the latest for their metrics.
    async fn save_metadata(&self, entries: &[MetadataEntry], now_ms: i64) -> Result<()>;
    /// By metric name; one metric only when `metric` is given.
    async fn metadata(&self, metric: Option<&str>, limit: usize) -> Result<Vec<MetadataEntry>>;
}

#[async_trait]
impl<T: super::sql::HasDb> Metadata for T {
    async fn save_metadata(&self, entries: &[MetadataEntry], now_ms: i64) -> Result<()> {
        let mut tx = self.db().begin().await?;
        for e in entries {
            tx.sql(
                "INSERT INTO metric_metadata (metric, kind, help, unit, updated_ms)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (metric) DO UPDATE SET kind = excluded.kind, help = excluded.help,
                     unit = excluded.unit, updated_ms = excluded.updated_ms",
            )
            .bind(e.metric.as_str())
            .bind(e.kind.as_str())
            .bind(e.help.as_str())
            .bind(e.unit.as_str())
            .bind(now_ms)
            .execute()
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn metadata(&self, metric: Option<&str>, limit: usize) -> Result<Vec<MetadataEntry>> {
        Ok(self
            .db()
            .sql(
                "SELECT metric, kind, help, unit FROM metric_metadata
                 WHERE ? IS NULL OR metric = ? ORDER BY metric LIMIT ?",
            )
            .bind(metric)
            .bind(metric)
            .bind(limit as i64)
            .fetch_all()
            .await?)
    }
}
