//! Autoscale policies and events, implemented once for both backends.

use super::sql::HasDb;
use super::Result;
use async_trait::async_trait;
use dozor_common::autoscale::Policy;

/// One decision or action.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleEvent {
    pub id: i64,
    pub service: String,
    pub ts_ms: i64,
    /// "scale" or "skip".
    pub kind: String,
    pub direction: String,
    pub from: u32,
    pub to: u32,
    pub value: Option<f64>,
    pub reason: String,
    pub dry_run: bool,
    /// "policy" or the user who scaled by hand.
    pub actor: String,
    pub task_id: Option<i64>,
    /// None while the host works on it; "ok" or the failure.
    pub result: Option<String>,
    pub finished_ms: Option<i64>,
}

#[async_trait]
pub trait AutoscaleStore: Send + Sync {
    async fn policies(&self) -> Result<Vec<Policy>>;
    async fn save_policy(&self, p: &Policy, by: &str, now_ms: i64) -> Result<()>;
    async fn delete_policy(&self, service: &str) -> Result<bool>;
    /// Stores an event (its `id` is ignored); the new id.
    async fn add_scale_event(&self, e: &ScaleEvent) -> Result<i64>;
    async fn set_scale_task(&self, id: i64, task_id: i64) -> Result<()>;
    async fn finish_scale_event(&self, id: i64, result: &str, now_ms: i64) -> Result<()>;
    /// A service's events since `since_ms`, oldest first (all services
    /// with None).
    async fn scale_events(&self, service: Option<&str>, since_ms: i64) -> Result<Vec<ScaleEvent>>;
    /// Scales whose host has not answered yet (a server restart picks
    /// them up rather than losing or repeating them).
    async fn unfinished_scales(&self) -> Result<Vec<ScaleEvent>>;
}

type Row = (
    i64,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    Option<f64>,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

const COLS: &str = "id, service, ts_ms, kind, direction, from_n, to_n, value, reason, dry_run, actor, task_id, result, finished_ms";

fn event(r: Row) -> ScaleEvent {
    ScaleEvent {
        id: r.0,
        service: r.1,
        ts_ms: r.2,
        kind: r.3,
        direction: r.4,
        from: u32::try_from(r.5).unwrap_or(0),
        to: u32::try_from(r.6).unwrap_or(0),
        value: r.7,
        reason: r.8,
        dry_run: r.9 != 0,
        actor: r.10,
        task_id: r.11,
        result: r.12,
        finished_ms: r.13,
    }
}

#[async_trait]
impl<T: HasDb> AutoscaleStore for T {
    async fn policies(&self) -> Result<Vec<Policy>> {
        let rows: Vec<String> = self
            .db()
            .sql("SELECT spec FROM autoscale_policies ORDER BY service")
            .scalars()
            .await?;
        // A policy that cannot be read is skipped, never the others.
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect())
    }

    async fn save_policy(&self, p: &Policy, by: &str, now_ms: i64) -> Result<()> {
        let spec = serde_json::to_string(p).expect("policies serialise");
        self.db()
            .sql("INSERT INTO autoscale_policies (service, spec, updated_by, updated_ms) VALUES (?, ?, ?, ?) ON CONFLICT (service) DO UPDATE SET spec = excluded.spec, updated_by = excluded.updated_by, updated_ms = excluded.updated_ms")
            .bind(p.service.as_str())
            .bind(spec)
            .bind(by)
            .bind(now_ms)
            .on_writer()
            .execute()
            .await?;
        Ok(())
    }

    async fn delete_policy(&self, service: &str) -> Result<bool> {
        let n = self
            .db()
            .sql("DELETE FROM autoscale_policies WHERE service = ?")
            .bind(service)
            .on_writer()
            .execute()
            .await?;
        Ok(n > 0)
    }

    async fn add_scale_event(&self, e: &ScaleEvent) -> Result<i64> {
        self.db()
            .sql("INSERT INTO autoscale_events (service, ts_ms, kind, direction, from_n, to_n, value, reason, dry_run, actor, task_id, result, finished_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")
            .bind(e.service.as_str())
            .bind(e.ts_ms)
            .bind(e.kind.as_str())
            .bind(e.direction.as_str())
            .bind(i64::from(e.from))
            .bind(i64::from(e.to))
            .bind(e.value)
            .bind(e.reason.as_str())
            .bind(i64::from(e.dry_run))
            .bind(e.actor.as_str())
            .bind(e.task_id)
            .bind(e.result.clone())
            .bind(e.finished_ms)
            .on_writer()
            .scalar()
            .await
    }

    async fn set_scale_task(&self, id: i64, task_id: i64) -> Result<()> {
        self.db()
            .sql("UPDATE autoscale_events SET task_id = ? WHERE id = ?")
            .bind(task_id)
            .bind(id)
            .on_writer()
            .execute()
            .await?;
        Ok(())
    }

    async fn finish_scale_event(&self, id: i64, result: &str, now_ms: i64) -> Result<()> {
        self.db()
            .sql("UPDATE autoscale_events SET result = ?, finished_ms = ? WHERE id = ? AND result IS NULL")
            .bind(result)
            .bind(now_ms)
            .bind(id)
            .on_writer()
            .execute()
            .await?;
        Ok(())
    }

    async fn scale_events(&self, service: Option<&str>, since_ms: i64) -> Result<Vec<ScaleEvent>> {
        let rows: Vec<Row> = match service {
            Some(s) => {
                let sql = format!("SELECT {COLS} FROM autoscale_events WHERE service = ? AND ts_ms >= ? ORDER BY ts_ms, id");
                self.db()
                    .sql(&sql)
                    .bind(s)
                    .bind(since_ms)
                    .fetch_all()
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {COLS} FROM autoscale_events WHERE ts_ms >= ? ORDER BY ts_ms, id"
                );
                self.db().sql(&sql).bind(since_ms).fetch_all().await?
            }
        };
        Ok(rows.into_iter().map(event).collect())
    }

    async fn unfinished_scales(&self) -> Result<Vec<ScaleEvent>> {
        let sql = format!("SELECT {COLS} FROM autoscale_events WHERE kind = 'scale' AND dry_run = 0 AND result IS NULL ORDER BY id");
        let rows: Vec<Row> = self.db().sql(&sql).fetch_all().await?;
        Ok(rows.into_iter().map(event).collect())
    }
}
