//! Alert rules made in the UI (editors and admins): save (compiled through
//! the rule-file parser, evaluated once, names of file rules refused) and
//! delete; and the built-in rules: edit, disable, enable, reset. Each
//! reloads the UI and built-in rules into the running engine.

use super::{Actor, OpError, OpResult, Ops};
use crate::alerting::builtin::{self, Builtin, Effective};
use crate::alerting::rules::{Group, Rule};
use crate::alerting::service;
use crate::alerting::ui_rules::RuleForm;
use crate::storage::{BuiltinOverride, Role, UiRuleRow};

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
    if name != original && builtin::find(&name).is_some() {
        return Err(OpError::Invalid(format!(
            "name: {name} is a built-in rule; edit it from the Rules page, or choose another name"
        )));
    }
    evaluable(a, &groups).await?;
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

/// One evaluation now: a rule that cannot be evaluated is refused when it
/// is saved, not found failing on every tick.
async fn evaluable(a: &crate::alerting::engine::Alerting, groups: &[Group]) -> OpResult<()> {
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
    Ok(())
}

/// Every built-in rule as it runs now (shipped or changed).
pub async fn builtins(ops: &Ops) -> OpResult<Vec<Effective>> {
    let interval = ops
        .alerting()
        .map_or(30_000, |a| a.config.default_interval.as_millis() as i64);
    Ok(builtin::effective(
        &ops.store().builtin_overrides().await?,
        interval,
    ))
}

fn shipped(name: &str) -> OpResult<Builtin> {
    builtin::find(name)
        .ok_or_else(|| OpError::NotFound(format!("There is no built-in rule called {name:?}.")))
}

/// Stores `o` (or, when it is back to shipped and enabled, forgets the
/// change), reloads the rules and audits `what`.
async fn store_override(ops: &Ops, actor: &Actor, o: BuiltinOverride, what: &str) -> OpResult<()> {
    if o.spec.is_none() && !o.disabled {
        ops.store().delete_builtin_override(&o.name).await?;
    } else {
        ops.store().save_builtin_override(&o).await?;
    }
    if let Some(a) = ops.alerting() {
        service::reload_ui_rules(a, ops.store()).await?;
    }
    ops.audit(actor, what, Some(o.name)).await;
    Ok(())
}

async fn current(ops: &Ops, actor: &Actor, name: &str) -> OpResult<BuiltinOverride> {
    let stored = ops.store().builtin_overrides().await?;
    Ok(stored
        .into_iter()
        .find(|o| o.name == name)
        .map(|o| BuiltinOverride {
            author: actor.name.clone(),
            updated_ms: ops.now_ms(),
            ..o
        })
        .unwrap_or(BuiltinOverride {
            name: name.to_string(),
            disabled: false,
            spec: None,
            author: actor.name.clone(),
            updated_ms: ops.now_ms(),
        }))
}

/// Saves an edit of the built-in `name` (its name cannot change). The
/// same fields as shipped forget the edit, so upgrades reach it again.
pub async fn save_builtin(ops: &Ops, actor: &Actor, name: &str, form: &RuleForm) -> OpResult<()> {
    Ops::require(actor, Role::Editor)?;
    let b = shipped(name)?;
    let a = engine(ops)?;
    let form = RuleForm {
        name: b.form.name.clone(),
        ..form.clone()
    };
    let interval = a.config.default_interval.as_millis() as i64;
    let (yaml, groups) = b.compile(&form, interval).map_err(OpError::Invalid)?;
    evaluable(a, &groups).await?;
    let o = BuiltinOverride {
        spec: (form != b.form).then_some(yaml),
        ..current(ops, actor, name).await?
    };
    store_override(ops, actor, o, "rule.builtin.save").await
}

/// Turns the built-in `name` off (its alerts are forgotten, as when a rule
/// is deleted) or back on; an edit is kept either way.
pub async fn set_builtin_disabled(
    ops: &Ops,
    actor: &Actor,
    name: &str,
    disabled: bool,
) -> OpResult<()> {
    Ops::require(actor, Role::Editor)?;
    shipped(name)?;
    let o = BuiltinOverride {
        disabled,
        ..current(ops, actor, name).await?
    };
    let what = if disabled {
        "rule.builtin.disable"
    } else {
        "rule.builtin.enable"
    };
    store_override(ops, actor, o, what).await
}

/// Back to the shipped definition; enabled or disabled as it was.
pub async fn reset_builtin(ops: &Ops, actor: &Actor, name: &str) -> OpResult<()> {
    Ops::require(actor, Role::Editor)?;
    shipped(name)?;
    let o = BuiltinOverride {
        spec: None,
        ..current(ops, actor, name).await?
    };
    store_override(ops, actor, o, "rule.builtin.reset").await
}
