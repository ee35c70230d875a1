//! Scrape targets defined on the server for one host (the Targets page,
//! admins only). The server hands each agent its list in every heartbeat
//! response; the agent scrapes them like its own. Implemented once for
//! both backends.

use super::Result;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTarget {
    pub id: i64,
    /// The agent's name (its `host` label).
    pub host: String,
    pub job: String,
    pub url: String,
    pub interval: Option<String>,
    /// "prometheus" or "json".
    pub format: String,
    pub created_by: String,
    pub created_ms: i64,
}

#[async_trait]
pub trait ServerTargets: Send + Sync {
    /// None when the host already has this job and URL.
    async fn create_server_target(&self, t: &ServerTarget) -> Result<Option<i64>>;
    /// One host's, or every host's; by host, job, URL.
    async fn server_targets(&self, host: Option<&str>) -> Result<Vec<ServerTarget>>;
    async fn delete_server_target(&self, id: i64) -> Result<Option<ServerTarget>>;
}

pub type Tuple = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
);

pub fn row(r: Tuple) -> ServerTarget {
    ServerTarget {
        id: r.0,
        host: r.1,
        job: r.2,
        url: r.3,
        interval: r.4,
        format: r.5,
        created_by: r.6,
        created_ms: r.7,
    }
}

#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::server_targets::ServerTargets for T {
    async fn create_server_target(
        &self,
        t: &crate::storage::server_targets::ServerTarget,
    ) -> crate::storage::Result<Option<i64>> {
        Ok(self.db().sql("INSERT INTO server_targets (host, job, url, interval, format, created_by, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host, job, url) DO NOTHING RETURNING id")
            .bind(&t.host).bind(&t.job).bind(&t.url).bind(&t.interval).bind(&t.format).bind(&t.created_by).bind(t.created_ms)
            .on_writer().scalar_optional().await?)
    }

    async fn server_targets(
        &self,
        host: Option<&str>,
    ) -> crate::storage::Result<Vec<crate::storage::server_targets::ServerTarget>> {
        let rows: Vec<crate::storage::server_targets::Tuple> = self.db().sql("SELECT id, host, job, url, interval, format, created_by, created_ms FROM server_targets WHERE (CAST(? AS TEXT) IS NULL OR host = ?) ORDER BY host, job, url")
            .bind(host).bind(host).fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(crate::storage::server_targets::row)
            .collect())
    }

    async fn delete_server_target(
        &self,
        id: i64,
    ) -> crate::storage::Result<Option<crate::storage::server_targets::ServerTarget>> {
        let r: Option<crate::storage::server_targets::Tuple> = self.db().sql("DELETE FROM server_targets WHERE id = ? RETURNING id, host, job, url, interval, format, created_by, created_ms")
            .bind(id).on_writer().fetch_optional().await?;
        Ok(r.map(crate::storage::server_targets::row))
    }
}
