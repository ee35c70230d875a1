//! Agents, enrolment tokens and tasks, written once for both backends
//! (`storage::sql`; JSON columns are text on SQLite, jsonb on PostgreSQL).

use super::sql::HasDb;
use super::{AgentRecord, Catalog, CreateAgent, NewAgent, NewTask, Result, TaskRecord};
use async_trait::async_trait;
use dozor_common::protocol::TaskResult;

type AgentRow = (
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);
type TaskRow = (
    i64,
    i64,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn agent(r: AgentRow) -> AgentRecord {
    AgentRecord {
        id: r.0,
        name: r.1,
        kind: r.2,
        created_ms: r.3,
        last_seen_ms: r.4,
        revoked_ms: r.5,
        inventory: json(r.6),
    }
}

fn task(r: TaskRow) -> TaskRecord {
    TaskRecord {
        id: r.0,
        agent_id: r.1,
        kind: r.2,
        payload: json(r.3).unwrap_or_default(),
        status: r.4,
        created_ms: r.5,
        delivered_ms: r.6,
        finished_ms: r.7,
        result: json(r.8),
    }
}

fn agent_cols<T: HasDb + ?Sized>(s: &T) -> String {
    format!(
        "id, name, kind, created_ms, last_seen_ms, revoked_ms, {}",
        s.db().json_text("inventory")
    )
}

fn task_cols<T: HasDb + ?Sized>(s: &T) -> String {
    let db = s.db();
    format!(
        "id, agent_id, kind, {}, status, created_ms, delivered_ms, finished_ms, {}",
        db.json_text("payload"),
        db.json_text("result")
    )
}

/// A live enrolment token at `now`.
const LIVE_TOKEN: &str = "token_hash = ? AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?) AND (max_uses IS NULL OR uses < max_uses)";

#[async_trait]
impl<T: HasDb> Catalog for T {
    async fn create_enroll_token_limited(
        &self,
        token_hash: &str,
        now_ms: i64,
        expires_ms: Option<i64>,
        max_uses: Option<i64>,
    ) -> Result<i64> {
        self.db()
            .sql("INSERT INTO enroll_tokens (token_hash, created_ms, expires_ms, max_uses) VALUES (?, ?, ?, ?) RETURNING id")
            .bind(token_hash)
            .bind(now_ms)
            .bind(expires_ms)
            .bind(max_uses)
            .on_writer()
            .scalar()
            .await
    }

    async fn enroll_token_valid(&self, token_hash: &str, now_ms: i64) -> Result<bool> {
        let sql = format!("SELECT count(*) FROM enroll_tokens WHERE {LIVE_TOKEN}");
        let n: i64 = self
            .db()
            .sql(&sql)
            .bind(token_hash)
            .bind(now_ms)
            .scalar()
            .await?;
        Ok(n > 0)
    }

    async fn consume_enroll_token(&self, token_hash: &str, now_ms: i64) -> Result<bool> {
        // One statement: two enrolments racing for the last use cannot
        // both win.
        let sql = format!("UPDATE enroll_tokens SET uses = uses + 1 WHERE {LIVE_TOKEN}");
        let used = self
            .db()
            .sql(&sql)
            .bind(token_hash)
            .bind(now_ms)
            .execute()
            .await?;
        Ok(used > 0)
    }

    async fn revoke_enroll_tokens(&self, now_ms: i64) -> Result<u64> {
        self.db()
            .sql("UPDATE enroll_tokens SET revoked_ms = ? WHERE revoked_ms IS NULL")
            .bind(now_ms)
            .execute()
            .await
    }

    async fn create_agent(&self, new: &NewAgent, now_ms: i64) -> Result<CreateAgent> {
        let db = self.db();
        let inventory = new.inventory.as_ref().map(|v| v.to_string());
        let mut tx = db.begin().await?;
        let existing: Option<(i64, Option<i64>)> = tx
            .sql("SELECT id, revoked_ms FROM agents WHERE name = ?")
            .bind(&new.name)
            .fetch_optional()
            .await?;
        let id = match existing {
            Some((_, None)) => return Ok(CreateAgent::NameTaken),
            Some((id, Some(_))) => {
                let sql = format!(
                    "UPDATE agents SET key_hash = ?, kind = ?, revoked_ms = NULL, inventory = {} WHERE id = ?",
                    db.json_param()
                );
                tx.sql(&sql)
                    .bind(&new.key_hash)
                    .bind(&new.kind)
                    .bind(inventory)
                    .bind(id)
                    .execute()
                    .await?;
                id
            }
            None => {
                let sql = format!(
                    "INSERT INTO agents (name, key_hash, kind, created_ms, inventory) VALUES (?, ?, ?, ?, {}) RETURNING id",
                    db.json_param()
                );
                tx.sql(&sql)
                    .bind(&new.name)
                    .bind(&new.key_hash)
                    .bind(&new.kind)
                    .bind(now_ms)
                    .bind(inventory)
                    .scalar()
                    .await?
            }
        };
        tx.commit().await?;
        Ok(CreateAgent::Created(id))
    }

    async fn agent_by_key_hash(&self, key_hash: &str) -> Result<Option<AgentRecord>> {
        let sql = format!("SELECT {} FROM agents WHERE key_hash = ?", agent_cols(self));
        let row: Option<AgentRow> = self.db().sql(&sql).bind(key_hash).fetch_optional().await?;
        Ok(row.map(agent))
    }

    async fn agent_by_name(&self, name: &str) -> Result<Option<AgentRecord>> {
        let sql = format!("SELECT {} FROM agents WHERE name = ?", agent_cols(self));
        let row: Option<AgentRow> = self.db().sql(&sql).bind(name).fetch_optional().await?;
        Ok(row.map(agent))
    }

    async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
        let sql = format!("SELECT {} FROM agents ORDER BY name", agent_cols(self));
        let rows: Vec<AgentRow> = self.db().sql(&sql).fetch_all().await?;
        Ok(rows.into_iter().map(agent).collect())
    }

    async fn revoke_agent(&self, name: &str, now_ms: i64) -> Result<bool> {
        let n = self
            .db()
            .sql("UPDATE agents SET revoked_ms = ? WHERE name = ? AND revoked_ms IS NULL")
            .bind(now_ms)
            .bind(name)
            .execute()
            .await?;
        Ok(n > 0)
    }

    async fn touch_agent(
        &self,
        agent_id: i64,
        now_ms: i64,
        inventory: Option<&serde_json::Value>,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE agents SET last_seen_ms = ?, inventory = coalesce({}, inventory) WHERE id = ?",
            self.db().json_param()
        );
        self.db()
            .sql(&sql)
            .bind(now_ms)
            .bind(inventory.map(|v| v.to_string()))
            .bind(agent_id)
            .execute()
            .await?;
        Ok(())
    }

    async fn enqueue_task(&self, t: &NewTask, now_ms: i64) -> Result<i64> {
        let db = self.db();
        let mut tx = db.begin().await?;
        if let Some(key) = &t.idempotency_key {
            let existing: Option<i64> = tx
                .sql("SELECT id FROM tasks WHERE idempotency_key = ?")
                .bind(key)
                .scalar_optional()
                .await?;
            if let Some(id) = existing {
                return Ok(id);
            }
        }
        let sql = format!(
            "INSERT INTO tasks (agent_id, kind, payload, idempotency_key, created_ms) VALUES (?, ?, {}, ?, ?) RETURNING id",
            db.json_param()
        );
        let id = tx
            .sql(&sql)
            .bind(t.agent_id)
            .bind(&t.kind)
            .bind(t.payload.to_string())
            .bind(&t.idempotency_key)
            .bind(now_ms)
            .scalar()
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn take_tasks(
        &self,
        agent_id: i64,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<TaskRecord>> {
        let db = self.db();
        let sql = format!(
            "UPDATE tasks SET status = 'delivered', delivered_ms = ? WHERE id IN
               (SELECT id FROM tasks WHERE agent_id = ? AND created_ms >= ?
                  AND (status = 'pending' OR (status = 'delivered' AND delivered_ms < ?))
                ORDER BY id LIMIT ?{})
             RETURNING {}",
            db.skip_locked(),
            task_cols(self)
        );
        let rows: Vec<TaskRow> = db
            .sql(&sql)
            .bind(now_ms)
            .bind(agent_id)
            .bind(now_ms - crate::storage::TASK_MAX_AGE_MS)
            .bind(now_ms - crate::storage::REDELIVER_AFTER_MS)
            .bind(limit as i64)
            .on_writer()
            .fetch_all()
            .await?;
        let mut tasks: Vec<TaskRecord> = rows.into_iter().map(task).collect();
        tasks.sort_by_key(|t| t.id);
        Ok(tasks)
    }

    async fn finish_task(&self, agent_id: i64, r: &TaskResult, now_ms: i64) -> Result<bool> {
        let result = serde_json::json!({"ok": r.ok, "message": r.message, "output": r.output, "error": r.error});
        let sql = format!(
            "UPDATE tasks SET status = ?, finished_ms = ?, result = {}
             WHERE id = ? AND agent_id = ? AND status IN ('pending', 'delivered')",
            self.db().json_param()
        );
        let n = self
            .db()
            .sql(&sql)
            .bind(if r.ok { "done" } else { "failed" })
            .bind(now_ms)
            .bind(result.to_string())
            .bind(r.task_id)
            .bind(agent_id)
            .execute()
            .await?;
        Ok(n > 0)
    }

    async fn scrub_task(&self, id: i64) -> Result<()> {
        let sql = format!(
            "UPDATE tasks SET payload = {} WHERE id = ?",
            self.db().json_param()
        );
        self.db()
            .sql(&sql)
            .bind("{}")
            .bind(id)
            .on_writer()
            .execute()
            .await?;
        Ok(())
    }

    async fn task(&self, id: i64) -> Result<Option<TaskRecord>> {
        let sql = format!("SELECT {} FROM tasks WHERE id = ?", task_cols(self));
        let row: Option<TaskRow> = self.db().sql(&sql).bind(id).fetch_optional().await?;
        Ok(row.map(task))
    }
}
