//! Alert rules made in the UI (editors and admins): save (compiled through
//! the rule-file parser, evaluated once, names of file rules refused) and
//! delete; either reloads the UI rules into the running engine.

use super::{Actor, OpError, OpResult, Ops};
use crate::alerting::rules::Rule;
use crate::alerting::service;
use crate::alerting::ui_rules::RuleForm;
use crate::storage::{Role, UiRuleRow};

fn engine(ops: &Ops) -> OpResult<&std::sync::Arc<crate::alerting::engine::Alerting>> {
    ops.alerting()
        .ok_or_else(|| OpError::Invalid("alerting is not running".into()))
}

/// Saves the rule in `form`, replacing `original` (its old name; empty for
/// a new rule). Returns the rule's name. It is evaluated from the next
/// tick, with no restart.
pub async fn save(ops: &Ops, actor: &Actor, form: &RuleForm, original: &str) -> OpResult<String> {
    Ops::require(actor, Role::Editor)?;
    let a = engine(ops)?;
    let interval = a.config.default_interval.as_millis() as i64;
    let (yaml, groups) = form.compile(interval).map_err(OpError::Invalid)?;
    let name = form.name.trim().to_string();
    if a.file_rule_names().contains(&name) {
        return Err(OpError::Invalid(format!(
            "name: {name} is a rule from a rule file; choose another name"
        )));
    }
    let existing = ops.store().ui_rules().await?;
    if name != original && existing.iter().any(|r| r.name == name) {
        return Err(OpError::Invalid(format!(
            "name: a rule called {name} exists; edit that one"
        )));
    }
    // One evaluation now: a rule that cannot be evaluated is refused here,
    // not found failing on every tick.
    for rule in groups.iter().flat_map(|g| &g.rules) {
        let Rule::Alert(def) = rule else { continue };
        for (field, expr) in [
            ("expr", Some(&def.expr)),
            ("recovery", def.recovery.as_ref()),
        ] {
            let Some(expr) = expr else { continue };
            if let Err(e) = a.try_expr(expr).await {
                return Err(OpError::Invalid(format!(
                    "{field}: cannot be evaluated: {e}"
                )));
            }
        }
    }
    let row = UiRuleRow {
        name: name.clone(),
        spec: yaml,
        author: actor.name.clone(),
        updated_ms: ops.now_ms(),
    };
    ops.store().save_ui_rule(&row).await?;
    if !original.is_empty() && original != name {
        ops.store().delete_ui_rule(original).await?;
    }
    service::reload_ui_rules(a, ops.store()).await?;
    ops.audit(actor, "rule.save", Some(name.clone())).await;
    Ok(name)
}

/// Deletes a rule made in the UI. NotFound for any other name.
pub async fn delete(ops: &Ops, actor: &Actor, name: &str) -> OpResult<()> {
    Ops::require(actor, Role::Editor)?;
    if !ops.store().delete_ui_rule(name).await? {
        return Err(OpError::NotFound(format!(
            "No rule called {name:?} was made in the UI."
        )));
    }
    if let Some(a) = ops.alerting() {
        service::reload_ui_rules(a, ops.store()).await?;
    }
    ops.audit(actor, "rule.delete", Some(name.to_string()))
        .await;
    Ok(())
}
