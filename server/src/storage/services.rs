//! Services and error pages, implemented once for both backends. A save
//! writes the service and its routes (host, domain, path) in one
//! transaction; a route another service holds refuses the save whole.

use super::sql::HasDb;
use super::Result;
use async_trait::async_trait;
use dozor_common::services::Service;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    pub spec: Service,
    pub created_by: String,
    pub created_ms: i64,
    pub updated_by: String,
    pub updated_ms: i64,
}

/// How a save went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Stored; the host it was on before, when it moved.
    Ok { old_host: Option<String> },
    /// Creating a name that exists.
    NameTaken,
    /// Updating a name that does not exist.
    Missing,
    /// Another service serves this domain and path on the host.
    RouteTaken {
        domain: String,
        path: String,
        by: String,
    },
}

/// One stored error page: `service` is empty for the global set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    pub service: String,
    pub status: u16,
    pub html: String,
    pub updated_by: String,
    pub updated_ms: i64,
}

#[async_trait]
pub trait ServiceStore: Send + Sync {
    /// One host's, or all; by name.
    async fn services(&self, host: Option<&str>) -> Result<Vec<ServiceRecord>>;
    async fn service(&self, name: &str) -> Result<Option<ServiceRecord>>;
    /// `create`: a new name; otherwise an update of an existing one.
    async fn save_service(&self, s: &Service, create: bool, by: &str, now_ms: i64)
        -> Result<Saved>;
    async fn delete_service(&self, name: &str) -> Result<Option<ServiceRecord>>;
    /// Every stored page: the global set and every override.
    async fn error_pages(&self) -> Result<Vec<ErrorPage>>;
    /// Stores a page, or with `html` None goes back to the default (global)
    /// or the global page (an override).
    async fn set_error_page(
        &self,
        service: &str,
        status: u16,
        html: Option<&str>,
        by: &str,
        now_ms: i64,
    ) -> Result<()>;
}

type Row = (String, String, i64, String, i64);

fn record(r: Row) -> Result<ServiceRecord> {
    let spec: Service = serde_json::from_str(&r.0)
        .map_err(|e| super::StorageError::Other(format!("a stored service cannot be read: {e}")))?;
    Ok(ServiceRecord {
        spec,
        created_by: r.1,
        created_ms: r.2,
        updated_by: r.3,
        updated_ms: r.4,
    })
}

#[async_trait]
impl<T: HasDb> ServiceStore for T {
    async fn services(&self, host: Option<&str>) -> Result<Vec<ServiceRecord>> {
        let rows: Vec<Row> = self
            .db()
            .sql("SELECT spec, created_by, created_ms, updated_by, updated_ms FROM services WHERE (CAST(? AS TEXT) IS NULL OR host = ?) ORDER BY name")
            .bind(host)
            .bind(host)
            .fetch_all()
            .await?;
        rows.into_iter().map(record).collect()
    }

    async fn service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        let row: Option<Row> = self
            .db()
            .sql("SELECT spec, created_by, created_ms, updated_by, updated_ms FROM services WHERE name = ?")
            .bind(name)
            .fetch_optional()
            .await?;
        row.map(record).transpose()
    }

    async fn save_service(
        &self,
        s: &Service,
        create: bool,
        by: &str,
        now_ms: i64,
    ) -> Result<Saved> {
        let spec = serde_json::to_string(s).expect("services serialise");
        let mut tx = self.db().begin().await?;
        let old_host: Option<String> = tx
            .sql("SELECT host FROM services WHERE name = ?")
            .bind(&s.name)
            .scalar_optional()
            .await?;
        match (&old_host, create) {
            (Some(_), true) => return Ok(Saved::NameTaken),
            (None, false) => return Ok(Saved::Missing),
            _ => {}
        }
        let routes: Vec<(String, String, String)> = tx
            .sql("SELECT service, domain, path FROM service_routes WHERE host = ? AND service <> ?")
            .bind(&s.host)
            .bind(&s.name)
            .fetch_all()
            .await?;
        for (by, domain, path) in routes {
            if path == s.path && s.domains.contains(&domain) {
                return Ok(Saved::RouteTaken { domain, path, by });
            }
        }
        if create {
            tx.sql("INSERT INTO services (name, host, spec, created_by, created_ms, updated_by, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(&s.name).bind(&s.host).bind(&spec).bind(by).bind(now_ms).bind(by).bind(now_ms)
                .execute()
                .await?;
        } else {
            tx.sql("UPDATE services SET host = ?, spec = ?, updated_by = ?, updated_ms = ? WHERE name = ?")
                .bind(&s.host).bind(&spec).bind(by).bind(now_ms).bind(&s.name)
                .execute()
                .await?;
            tx.sql("DELETE FROM service_routes WHERE service = ?")
                .bind(&s.name)
                .execute()
                .await?;
        }
        for d in &s.domains {
            tx.sql("INSERT INTO service_routes (service, host, domain, path) VALUES (?, ?, ?, ?)")
                .bind(&s.name)
                .bind(&s.host)
                .bind(d)
                .bind(&s.path)
                .execute()
                .await?;
        }
        tx.commit().await?;
        Ok(Saved::Ok {
            old_host: old_host.filter(|h| *h != s.host),
        })
    }

    async fn delete_service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        let mut tx = self.db().begin().await?;
        let row: Option<Row> = tx
            .sql("SELECT spec, created_by, created_ms, updated_by, updated_ms FROM services WHERE name = ?")
            .bind(name)
            .fetch_optional()
            .await?;
        if row.is_none() {
            return Ok(None);
        }
        tx.sql("DELETE FROM service_routes WHERE service = ?")
            .bind(name)
            .execute()
            .await?;
        tx.sql("DELETE FROM error_pages WHERE service = ?")
            .bind(name)
            .execute()
            .await?;
        tx.sql("DELETE FROM services WHERE name = ?")
            .bind(name)
            .execute()
            .await?;
        tx.commit().await?;
        row.map(record).transpose()
    }

    async fn error_pages(&self) -> Result<Vec<ErrorPage>> {
        let rows: Vec<(String, i64, String, String, i64)> = self
            .db()
            .sql("SELECT service, status, html, updated_by, updated_ms FROM error_pages ORDER BY service, status")
            .fetch_all()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ErrorPage {
                service: r.0,
                status: r.1 as u16,
                html: r.2,
                updated_by: r.3,
                updated_ms: r.4,
            })
            .collect())
    }

    async fn set_error_page(
        &self,
        service: &str,
        status: u16,
        html: Option<&str>,
        by: &str,
        now_ms: i64,
    ) -> Result<()> {
        match html {
            Some(html) => {
                self.db()
                    .sql("INSERT INTO error_pages (service, status, html, updated_by, updated_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (service, status) DO UPDATE SET html = excluded.html, updated_by = excluded.updated_by, updated_ms = excluded.updated_ms")
                    .bind(service)
                    .bind(status as i64)
                    .bind(html)
                    .bind(by)
                    .bind(now_ms)
                    .on_writer()
                    .execute()
                    .await?;
            }
            None => {
                self.db()
                    .sql("DELETE FROM error_pages WHERE service = ? AND status = ?")
                    .bind(service)
                    .bind(status as i64)
                    .on_writer()
                    .execute()
                    .await?;
            }
        }
        Ok(())
    }
}
