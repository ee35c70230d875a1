//! Alert rules made in the UI, stored as rule-file text (see
//! `alerting::ui_rules`), and the changes made to built-in rules (see
//! `alerting::builtin`). Implemented once for both backends.

use super::Result;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiRuleRow {
    pub name: String,
    /// A Prometheus rule file with one group holding this rule.
    pub spec: String,
    pub author: String,
    pub updated_ms: i64,
}

/// A built-in rule as a user changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinOverride {
    pub name: String,
    pub disabled: bool,
    /// The edited rule (a one-rule rule file); None: as shipped.
    pub spec: Option<String>,
    pub author: String,
    pub updated_ms: i64,
}

#[async_trait]
pub trait UiRules: Send + Sync {
    async fn ui_rules(&self) -> Result<Vec<UiRuleRow>>;
    /// Creates or replaces the rule called `r.name`.
    async fn save_ui_rule(&self, r: &UiRuleRow) -> Result<()>;
    async fn delete_ui_rule(&self, name: &str) -> Result<bool>;
    async fn builtin_overrides(&self) -> Result<Vec<BuiltinOverride>>;
    /// Creates or replaces the change to the built-in `o.name`.
    async fn save_builtin_override(&self, o: &BuiltinOverride) -> Result<()>;
    /// Back to the shipped rule, enabled.
    async fn delete_builtin_override(&self, name: &str) -> Result<bool>;
}

#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::ui_rules::UiRules for T {
    async fn ui_rules(&self) -> crate::storage::Result<Vec<crate::storage::ui_rules::UiRuleRow>> {
        let rows: Vec<(String, String, String, i64)> = self
            .db()
            .sql("SELECT name, spec, author, updated_ms FROM ui_rules ORDER BY name")
            .fetch_all()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| crate::storage::ui_rules::UiRuleRow {
                name: r.0,
                spec: r.1,
                author: r.2,
                updated_ms: r.3,
            })
            .collect())
    }

    async fn save_ui_rule(
        &self,
        r: &crate::storage::ui_rules::UiRuleRow,
    ) -> crate::storage::Result<()> {
        self.db().sql("INSERT INTO ui_rules (name, spec, author, updated_ms) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, author = excluded.author, updated_ms = excluded.updated_ms")
            .bind(&r.name).bind(&r.spec).bind(&r.author).bind(r.updated_ms)
            .execute().await?;
        Ok(())
    }

    async fn delete_ui_rule(&self, name: &str) -> crate::storage::Result<bool> {
        Ok(self
            .db()
            .sql("DELETE FROM ui_rules WHERE name = ?")
            .bind(name)
            .execute()
            .await?
            > 0)
    }

    async fn builtin_overrides(
        &self,
    ) -> crate::storage::Result<Vec<crate::storage::ui_rules::BuiltinOverride>> {
        let rows: Vec<(String, bool, Option<String>, String, i64)> = self
            .db()
            .sql("SELECT name, disabled, spec, author, updated_ms FROM builtin_rules ORDER BY name")
            .fetch_all()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| crate::storage::ui_rules::BuiltinOverride {
                name: r.0,
                disabled: r.1,
                spec: r.2,
                author: r.3,
                updated_ms: r.4,
            })
            .collect())
    }

    async fn save_builtin_override(
        &self,
        o: &crate::storage::ui_rules::BuiltinOverride,
    ) -> crate::storage::Result<()> {
        self.db().sql("INSERT INTO builtin_rules (name, disabled, spec, author, updated_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET disabled = excluded.disabled, spec = excluded.spec, author = excluded.author, updated_ms = excluded.updated_ms")
            .bind(&o.name).bind(o.disabled).bind(&o.spec).bind(&o.author).bind(o.updated_ms)
            .execute().await?;
        Ok(())
    }

    async fn delete_builtin_override(&self, name: &str) -> crate::storage::Result<bool> {
        Ok(self
            .db()
            .sql("DELETE FROM builtin_rules WHERE name = ?")
            .bind(name)
            .execute()
            .await?
            > 0)
    }
}
