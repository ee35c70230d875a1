//! Certificates and the fleet's ACME account, implemented once for both
//! backends. A row says what a service's host must hold; the host's
//! reports fill in what it holds. No key is ever written here.

use super::sql::HasDb;
use super::Result;
use async_trait::async_trait;
use dozor_common::certs::{Acme, Report, Source};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRecord {
    pub service: String,
    pub host: String,
    pub source: Source,
    pub renew: u64,
    pub revoke: bool,
    /// The host's last word on it; None before the first.
    pub report: Option<Report>,
    pub reported_ms: Option<i64>,
    pub requested_by: String,
    pub requested_ms: i64,
}

#[async_trait]
pub trait CertStore: Send + Sync {
    /// Every certificate (or one host's), by service.
    async fn certificates(&self, host: Option<&str>) -> Result<Vec<CertRecord>>;
    async fn certificate(&self, service: &str) -> Result<Option<CertRecord>>;
    /// Wants a certificate for `service` from `source`: a new row, or the
    /// existing one un-revoked, its source set and its renewal counter
    /// moved on (so the host acts now).
    async fn want_certificate(
        &self,
        service: &str,
        host: &str,
        source: Source,
        by: &str,
        now_ms: i64,
    ) -> Result<()>;
    /// Moves the renewal counter on; false when there is no row.
    async fn renew_certificate(&self, service: &str) -> Result<bool>;
    /// Sets the revoke switch; false when there is no row.
    async fn revoke_certificate(&self, service: &str) -> Result<bool>;
    async fn delete_certificate(&self, service: &str) -> Result<bool>;
    /// A host's reports (the caller keeps only those for services on
    /// that host); the row follows the service to it.
    async fn record_cert_reports(&self, host: &str, r: &[Report], now_ms: i64) -> Result<()>;
    async fn acme(&self) -> Result<Option<Acme>>;
    async fn set_acme(&self, a: &Acme, by: &str, now_ms: i64) -> Result<()>;
}

type Row = (
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<i64>,
    String,
    i64,
);

const COLS: &str =
    "service, host, source, renew, revoke, report, reported_ms, requested_by, requested_ms";

fn record(r: Row) -> CertRecord {
    CertRecord {
        service: r.0,
        host: r.1,
        source: Source::parse(&r.2).unwrap_or_default(),
        renew: u64::try_from(r.3).unwrap_or(0),
        revoke: r.4 != 0,
        // A report that cannot be read is shown as none rather than
        // hiding the row.
        report: r.5.and_then(|t| serde_json::from_str(&t).ok()),
        reported_ms: r.6,
        requested_by: r.7,
        requested_ms: r.8,
    }
}

#[async_trait]
impl<T: HasDb> CertStore for T {
    async fn certificates(&self, host: Option<&str>) -> Result<Vec<CertRecord>> {
        let rows: Vec<Row> = match host {
            Some(h) => {
                let sql =
                    format!("SELECT {COLS} FROM certificates WHERE host = ? ORDER BY service");
                self.db().sql(&sql).bind(h).fetch_all().await?
            }
            None => {
                let sql = format!("SELECT {COLS} FROM certificates ORDER BY service");
                self.db().sql(&sql).fetch_all().await?
            }
        };
        Ok(rows.into_iter().map(record).collect())
    }

    async fn certificate(&self, service: &str) -> Result<Option<CertRecord>> {
        let sql = format!("SELECT {COLS} FROM certificates WHERE service = ?");
        let row: Option<Row> = self.db().sql(&sql).bind(service).fetch_optional().await?;
        Ok(row.map(record))
    }

    async fn want_certificate(
        &self,
        service: &str,
        host: &str,
        source: Source,
        by: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.db()
            .sql("INSERT INTO certificates (service, host, source, renew, revoke, requested_by, requested_ms) VALUES (?, ?, ?, 0, 0, ?, ?) ON CONFLICT (service) DO UPDATE SET host = excluded.host, source = excluded.source, renew = certificates.renew + 1, revoke = 0, requested_by = excluded.requested_by, requested_ms = excluded.requested_ms")
            .bind(service)
            .bind(host)
            .bind(source.as_str())
            .bind(by)
            .bind(now_ms)
            .on_writer()
            .execute()
            .await?;
        Ok(())
    }

    async fn renew_certificate(&self, service: &str) -> Result<bool> {
        let n = self
            .db()
            .sql("UPDATE certificates SET renew = renew + 1 WHERE service = ?")
            .bind(service)
            .on_writer()
            .execute()
            .await?;
        Ok(n > 0)
    }

    async fn revoke_certificate(&self, service: &str) -> Result<bool> {
        let n = self
            .db()
            .sql("UPDATE certificates SET revoke = 1 WHERE service = ?")
            .bind(service)
            .on_writer()
            .execute()
            .await?;
        Ok(n > 0)
    }

    async fn delete_certificate(&self, service: &str) -> Result<bool> {
        let n = self
            .db()
            .sql("DELETE FROM certificates WHERE service = ?")
            .bind(service)
            .on_writer()
            .execute()
            .await?;
        Ok(n > 0)
    }

    async fn record_cert_reports(&self, host: &str, r: &[Report], now_ms: i64) -> Result<()> {
        for rep in r {
            let text = serde_json::to_string(rep).expect("reports serialise");
            self.db()
                .sql("UPDATE certificates SET report = ?, reported_ms = ?, host = ? WHERE service = ?")
                .bind(text)
                .bind(now_ms)
                .bind(host)
                .bind(rep.service.as_str())
                .on_writer()
                .execute()
                .await?;
        }
        Ok(())
    }

    async fn acme(&self) -> Result<Option<Acme>> {
        let rows: Vec<String> = self
            .db()
            .sql("SELECT spec FROM acme_account WHERE id = 1")
            .scalars()
            .await?;
        Ok(rows.first().and_then(|t| serde_json::from_str(t).ok()))
    }

    async fn set_acme(&self, a: &Acme, by: &str, now_ms: i64) -> Result<()> {
        let spec = serde_json::to_string(a).expect("acme settings serialise");
        self.db()
            .sql("INSERT INTO acme_account (id, spec, updated_by, updated_ms) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_by = excluded.updated_by, updated_ms = excluded.updated_ms")
            .bind(spec)
            .bind(by)
            .bind(now_ms)
            .on_writer()
            .execute()
            .await?;
        Ok(())
    }
}
