//! Agents, enrolment tokens and tasks in PostgreSQL.

use super::PgStore;
use crate::storage::{AgentRecord, Catalog, CreateAgent, NewAgent, NewTask, Result, TaskRecord};
use async_trait::async_trait;
use dozor_common::protocol::TaskResult;
use sqlx::postgres::PgRow;
use sqlx::Row;

fn json(r: &PgRow, i: usize) -> Option<serde_json::Value> {
    r.get::<Option<String>, _>(i)
        .and_then(|t| serde_json::from_str(&t).ok())
}

const AGENT_COLS: &str = "id, name, kind, created_ms, last_seen_ms, revoked_ms, inventory::text";
const TASK_COLS: &str =
    "id, agent_id, kind, payload::text, status, created_ms, delivered_ms, finished_ms, result::text";

fn agent(r: &PgRow) -> AgentRecord {
    AgentRecord {
        id: r.get(0),
        name: r.get(1),
        kind: r.get(2),
        created_ms: r.get(3),
        last_seen_ms: r.get(4),
        revoked_ms: r.get(5),
        inventory: json(r, 6),
    }
}

fn task(r: &PgRow) -> TaskRecord {
    TaskRecord {
        id: r.get(0),
        agent_id: r.get(1),
        kind: r.get(2),
        payload: json(r, 3).unwrap_or_default(),
        status: r.get(4),
        created_ms: r.get(5),
        delivered_ms: r.get(6),
        finished_ms: r.get(7),
        result: json(r, 8),
    }
}

#[async_trait]
impl Catalog for PgStore {
    async fn create_enroll_token_limited(
        &self,
        token_hash: &str,
        now_ms: i64,
        expires_ms: Option<i64>,
        max_uses: Option<i64>,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO enroll_tokens (token_hash, created_ms, expires_ms, max_uses) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(token_hash)
        .bind(now_ms)
        .bind(expires_ms)
        .bind(max_uses)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn enroll_token_valid(&self, token_hash: &str, now_ms: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM enroll_tokens WHERE token_hash = $1 AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $2) AND (max_uses IS NULL OR uses < max_uses)")
            .bind(token_hash)
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    async fn consume_enroll_token(&self, token_hash: &str, now_ms: i64) -> Result<bool> {
        // One statement: two enrolments racing for the last use cannot
        // both win.
        let used = sqlx::query("UPDATE enroll_tokens SET uses = uses + 1 WHERE token_hash = $1 AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $2) AND (max_uses IS NULL OR uses < max_uses)")
            .bind(token_hash)
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(used > 0)
    }

    async fn revoke_enroll_tokens(&self, now_ms: i64) -> Result<u64> {
        Ok(
            sqlx::query("UPDATE enroll_tokens SET revoked_ms = $1 WHERE revoked_ms IS NULL")
                .bind(now_ms)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    async fn create_agent(&self, new: &NewAgent, now_ms: i64) -> Result<CreateAgent> {
        let inventory = new.inventory.as_ref().map(|v| v.to_string());
        // A live agent keeps its name; a revoked one is re-keyed in place
        // so its series history stays attached to the same id.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO agents (name, key_hash, kind, created_ms, inventory)
             VALUES ($1, $2, $3, $4, $5::jsonb)
             ON CONFLICT (name) DO UPDATE
                SET key_hash = EXCLUDED.key_hash, kind = EXCLUDED.kind,
                    revoked_ms = NULL, inventory = EXCLUDED.inventory
                WHERE agents.revoked_ms IS NOT NULL
             RETURNING id",
        )
        .bind(&new.name)
        .bind(&new.key_hash)
        .bind(&new.kind)
        .bind(now_ms)
        .bind(inventory)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match id {
            Some(id) => CreateAgent::Created(id),
            None => CreateAgent::NameTaken,
        })
    }

    async fn agent_by_key_hash(&self, key_hash: &str) -> Result<Option<AgentRecord>> {
        let sql = format!("SELECT {AGENT_COLS} FROM agents WHERE key_hash = $1");
        let row = sqlx::query(&sql)
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(agent))
    }

    async fn agent_by_name(&self, name: &str) -> Result<Option<AgentRecord>> {
        let sql = format!("SELECT {AGENT_COLS} FROM agents WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(agent))
    }

    async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
        let sql = format!("SELECT {AGENT_COLS} FROM agents ORDER BY name");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(agent).collect())
    }

    async fn revoke_agent(&self, name: &str, now_ms: i64) -> Result<bool> {
        let n =
            sqlx::query("UPDATE agents SET revoked_ms = $1 WHERE name = $2 AND revoked_ms IS NULL")
                .bind(now_ms)
                .bind(name)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n > 0)
    }

    async fn touch_agent(
        &self,
        agent_id: i64,
        now_ms: i64,
        inventory: Option<&serde_json::Value>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE agents SET last_seen_ms = $1, inventory = coalesce($2::jsonb, inventory) WHERE id = $3",
        )
        .bind(now_ms)
        .bind(inventory.map(|v| v.to_string()))
        .bind(agent_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn enqueue_task(&self, t: &NewTask, now_ms: i64) -> Result<i64> {
        // The no-op DO UPDATE makes RETURNING yield the existing row's id
        // when the idempotency key was seen before.
        Ok(sqlx::query_scalar(
            "INSERT INTO tasks (agent_id, kind, payload, idempotency_key, created_ms)
             VALUES ($1, $2, $3::jsonb, $4, $5)
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING id",
        )
        .bind(t.agent_id)
        .bind(&t.kind)
        .bind(t.payload.to_string())
        .bind(&t.idempotency_key)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn take_tasks(
        &self,
        agent_id: i64,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<TaskRecord>> {
        let sql = format!(
            "UPDATE tasks SET status = 'delivered', delivered_ms = $1 WHERE id IN
               (SELECT id FROM tasks WHERE agent_id = $2 AND created_ms >= $5
                  AND (status = 'pending' OR (status = 'delivered' AND delivered_ms < $4))
                ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING {TASK_COLS}"
        );
        let rows = sqlx::query(&sql)
            .bind(now_ms)
            .bind(agent_id)
            .bind(limit as i64)
            .bind(now_ms - crate::storage::REDELIVER_AFTER_MS)
            .bind(now_ms - crate::storage::TASK_MAX_AGE_MS)
            .fetch_all(&self.pool)
            .await?;
        let mut tasks: Vec<TaskRecord> = rows.iter().map(task).collect();
        tasks.sort_by_key(|t| t.id);
        Ok(tasks)
    }

    async fn finish_task(&self, agent_id: i64, r: &TaskResult, now_ms: i64) -> Result<bool> {
        let result = serde_json::json!({"ok": r.ok, "message": r.message, "output": r.output, "error": r.error});
        let n = sqlx::query(
            "UPDATE tasks SET status = $1, finished_ms = $2, result = $3::jsonb
             WHERE id = $4 AND agent_id = $5 AND status IN ('pending', 'delivered')",
        )
        .bind(if r.ok { "done" } else { "failed" })
        .bind(now_ms)
        .bind(result.to_string())
        .bind(r.task_id)
        .bind(agent_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    async fn task(&self, id: i64) -> Result<Option<TaskRecord>> {
        let sql = format!("SELECT {TASK_COLS} FROM tasks WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(task))
    }
}
