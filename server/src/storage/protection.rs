//! Protection, implemented once for both backends: the fleet's settings,
//! blocks (current and past) and the bad-path hits the fleet rule reads.

use super::sql::HasDb;
use super::Result;
use async_trait::async_trait;
use dozor_common::protection::{Activity, Settings};

/// One address's traffic summed over hosts and services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRow {
    pub address: String,
    pub requests: i64,
    pub errors: i64,
    pub bad_paths: i64,
    /// Hosts and services it was seen on.
    pub places: i64,
}

/// One block as stored: on one host (an agent's rule) or on all of them
/// (`host` None: the fleet rule or an admin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRecord {
    pub id: i64,
    pub address: String,
    pub host: Option<String>,
    pub service: String,
    pub reason: String,
    pub hits: i64,
    pub dry_run: bool,
    pub created_by: String,
    pub since_ms: i64,
    pub until_ms: Option<i64>,
    pub removed_by: Option<String>,
    pub removed_ms: Option<i64>,
}

impl BlockRecord {
    /// In force at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        !self.dry_run && self.removed_ms.is_none() && self.until_ms.is_none_or(|u| u > now_ms)
    }
}

/// A block to store (the id and removal come later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlock {
    pub address: String,
    pub host: Option<String>,
    pub service: String,
    pub reason: String,
    pub hits: i64,
    pub dry_run: bool,
    pub created_by: String,
    pub since_ms: i64,
    pub until_ms: Option<i64>,
}

#[async_trait]
pub trait ProtectionStore: Send + Sync {
    /// The stored settings, or the defaults.
    async fn protection_settings(&self) -> Result<Settings>;
    async fn set_protection_settings(&self, s: &Settings, by: &str, now_ms: i64) -> Result<()>;
    async fn add_block(&self, b: &NewBlock) -> Result<i64>;
    /// Blocks that began since `since_ms` or are still in force then,
    /// newest first, at most `limit`.
    async fn blocks(&self, since_ms: i64, limit: i64) -> Result<Vec<BlockRecord>>;
    async fn block(&self, id: i64) -> Result<Option<BlockRecord>>;
    /// Ends a block; false when it was already over or unknown.
    async fn remove_block(&self, id: i64, by: &str, now_ms: i64) -> Result<bool>;
    async fn record_bad_paths(
        &self,
        host: &str,
        hits: &[(String, String, i64)],
        now_ms: i64,
    ) -> Result<()>;
    /// The distinct (host, service) places `address` hit bad paths on
    /// since `since_ms`.
    async fn bad_path_spread(&self, address: &str, since_ms: i64) -> Result<i64>;
    /// Forgets hits older than `before_ms`.
    async fn prune_bad_paths(&self, before_ms: i64) -> Result<u64>;
    /// An interval's busiest addresses from one host.
    async fn record_activity(&self, host: &str, a: &[Activity], now_ms: i64) -> Result<()>;
    /// The busiest addresses since `since_ms`, over every host and
    /// service, by requests.
    async fn top_activity(&self, since_ms: i64, limit: i64) -> Result<Vec<ActivityRow>>;
    /// Records where an agent's heartbeats come from; true when it
    /// changed.
    async fn set_agent_address(&self, agent_id: i64, address: &str) -> Result<bool>;
    /// The addresses of agents not revoked.
    async fn agent_addresses(&self) -> Result<Vec<String>>;
}

type Row = (
    i64,
    String,
    Option<String>,
    String,
    String,
    i64,
    bool,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

const COLUMNS: &str = "id, address, host, service, reason, hits, dry_run, created_by, since_ms, until_ms, removed_by, removed_ms";

fn record(r: Row) -> BlockRecord {
    BlockRecord {
        id: r.0,
        address: r.1,
        host: r.2,
        service: r.3,
        reason: r.4,
        hits: r.5,
        dry_run: r.6,
        created_by: r.7,
        since_ms: r.8,
        until_ms: r.9,
        removed_by: r.10,
        removed_ms: r.11,
    }
}

#[async_trait]
impl<T: HasDb> ProtectionStore for T {
    async fn protection_settings(&self) -> Result<Settings> {
        let text: Option<String> = self
            .db()
            .sql("SELECT settings FROM protection_settings WHERE id = 1")
            .scalar_optional()
            .await?;
        match text {
            None => Ok(Settings::default()),
            Some(t) => serde_json::from_str(&t).map_err(|e| {
                super::StorageError::Other(format!(
                    "the stored protection settings cannot be read: {e}"
                ))
            }),
        }
    }

    async fn set_protection_settings(&self, s: &Settings, by: &str, now_ms: i64) -> Result<()> {
        let text = serde_json::to_string(s).expect("settings serialise");
        self.db()
            .sql("INSERT INTO protection_settings (id, settings, updated_by, updated_ms) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET settings = excluded.settings, updated_by = excluded.updated_by, updated_ms = excluded.updated_ms")
            .bind(text)
            .bind(by)
            .bind(now_ms)
            .on_writer()
            .execute()
            .await?;
        Ok(())
    }

    async fn add_block(&self, b: &NewBlock) -> Result<i64> {
        self.db()
            .sql("INSERT INTO waf_blocks (address, host, service, reason, hits, dry_run, created_by, since_ms, until_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")
            .bind(b.address.as_str())
            .bind(b.host.clone())
            .bind(b.service.as_str())
            .bind(b.reason.as_str())
            .bind(b.hits)
            .bind(b.dry_run)
            .bind(b.created_by.as_str())
            .bind(b.since_ms)
            .bind(b.until_ms)
            .on_writer()
            .scalar()
            .await
    }

    async fn blocks(&self, since_ms: i64, limit: i64) -> Result<Vec<BlockRecord>> {
        let rows: Vec<Row> = self
            .db()
            .sql(&format!("SELECT {COLUMNS} FROM waf_blocks WHERE since_ms >= ? OR (removed_ms IS NULL AND (until_ms IS NULL OR until_ms > ?)) ORDER BY since_ms DESC, id DESC LIMIT ?"))
            .bind(since_ms)
            .bind(since_ms)
            .bind(limit)
            .fetch_all()
            .await?;
        Ok(rows.into_iter().map(record).collect())
    }

    async fn block(&self, id: i64) -> Result<Option<BlockRecord>> {
        let row: Option<Row> = self
            .db()
            .sql(&format!("SELECT {COLUMNS} FROM waf_blocks WHERE id = ?"))
            .bind(id)
            .fetch_optional()
            .await?;
        Ok(row.map(record))
    }

    async fn remove_block(&self, id: i64, by: &str, now_ms: i64) -> Result<bool> {
        let n = self
            .db()
            .sql("UPDATE waf_blocks SET removed_by = ?, removed_ms = ? WHERE id = ? AND removed_ms IS NULL AND (until_ms IS NULL OR until_ms > ?)")
            .bind(by)
            .bind(now_ms)
            .bind(id)
            .bind(now_ms)
            .on_writer()
            .execute()
            .await?;
        Ok(n > 0)
    }

    async fn record_bad_paths(
        &self,
        host: &str,
        hits: &[(String, String, i64)],
        now_ms: i64,
    ) -> Result<()> {
        if hits.is_empty() {
            return Ok(());
        }
        let mut tx = self.db().begin().await?;
        for (address, service, n) in hits {
            tx.sql("INSERT INTO waf_bad_paths (address, host, service, hits, ts_ms) VALUES (?, ?, ?, ?, ?)")
                .bind(address.as_str())
                .bind(host)
                .bind(service.as_str())
                .bind(*n)
                .bind(now_ms)
                .execute()
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn bad_path_spread(&self, address: &str, since_ms: i64) -> Result<i64> {
        let places: Vec<(String, String)> = self
            .db()
            .sql(
                "SELECT DISTINCT host, service FROM waf_bad_paths WHERE address = ? AND ts_ms >= ?",
            )
            .bind(address)
            .bind(since_ms)
            .fetch_all()
            .await?;
        Ok(places.len() as i64)
    }

    async fn prune_bad_paths(&self, before_ms: i64) -> Result<u64> {
        self.db()
            .sql("DELETE FROM waf_bad_paths WHERE ts_ms < ?")
            .bind(before_ms)
            .on_writer()
            .execute()
            .await
    }

    async fn set_agent_address(&self, agent_id: i64, address: &str) -> Result<bool> {
        let n = self
            .db()
            .sql("UPDATE agents SET address = ? WHERE id = ? AND (address IS NULL OR address <> ?)")
            .bind(address)
            .bind(agent_id)
            .bind(address)
            .on_writer()
            .execute()
            .await?;
        Ok(n > 0)
    }

    async fn agent_addresses(&self) -> Result<Vec<String>> {
        self.db()
            .sql("SELECT DISTINCT address FROM agents WHERE address IS NOT NULL AND revoked_ms IS NULL ORDER BY address")
            .scalars()
            .await
    }

    async fn record_activity(&self, host: &str, a: &[Activity], now_ms: i64) -> Result<()> {
        if a.is_empty() {
            return Ok(());
        }
        let mut tx = self.db().begin().await?;
        for e in a {
            tx.sql("INSERT INTO waf_activity (address, host, service, requests, errors, bad_paths, ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(e.address.to_string())
                .bind(host)
                .bind(e.service.as_str())
                .bind(i64::from(e.requests))
                .bind(i64::from(e.errors))
                .bind(i64::from(e.bad_paths))
                .bind(now_ms)
                .execute()
                .await?;
        }
        tx.sql("DELETE FROM waf_activity WHERE ts_ms < ?")
            .bind(now_ms - 86_400_000)
            .execute()
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn top_activity(&self, since_ms: i64, limit: i64) -> Result<Vec<ActivityRow>> {
        let rows: Vec<(String, i64, i64, i64, i64)> = self
            .db()
            .sql("SELECT address, CAST(SUM(requests) AS BIGINT), CAST(SUM(errors) AS BIGINT), CAST(SUM(bad_paths) AS BIGINT), CAST(COUNT(DISTINCT host || ' ' || service) AS BIGINT) FROM waf_activity WHERE ts_ms >= ? GROUP BY address ORDER BY 2 DESC, address LIMIT ?")
            .bind(since_ms)
            .bind(limit)
            .fetch_all()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ActivityRow {
                address: r.0,
                requests: r.1,
                errors: r.2,
                bad_paths: r.3,
                places: r.4,
            })
            .collect())
    }
}
