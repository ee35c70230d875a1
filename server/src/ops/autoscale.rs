//! Autoscaling: policies (editors and admins), manual scaling through the
//! same path as the policy's, and carrying out and settling every scale:
//! each is an event row first, then a `service.scale` task whose
//! idempotency key is the event's id, so a server restart in the middle
//! neither loses the action nor runs it twice (the host's answer to a
//! task delivered again is the same: it holds N replicas). The
//! dashboard, the JSON API and the autoscaler call these.

use super::{Actor, OpError, OpResult, Ops};
use crate::storage::{NewTask, Role, ScaleEvent};
use dozor_common::autoscale::{check, Direction, Policy, Scale, ScaleService, Scaled};
use dozor_common::services::FieldError;
use dozor_common::tasks::TaskKind;

fn fields(errors: Vec<(&'static str, String)>) -> OpError {
    OpError::Fields(
        errors
            .into_iter()
            .map(|(field, message)| FieldError { field, message })
            .collect(),
    )
}

pub async fn policies(ops: &Ops) -> OpResult<Vec<Policy>> {
    Ok(ops.store().policies().await?)
}

pub async fn policy(ops: &Ops, service: &str) -> OpResult<Option<Policy>> {
    Ok(policies(ops)
        .await?
        .into_iter()
        .find(|p| p.service == service))
}

pub async fn save_policy(ops: &Ops, actor: &Actor, p: Policy) -> OpResult<Policy> {
    Ops::require(actor, Role::Editor)?;
    check(&p).map_err(fields)?;
    if ops.store().service(&p.service).await?.is_none() {
        return Err(OpError::NotFound(format!(
            "no service called {}",
            p.service
        )));
    }
    ops.store()
        .save_policy(&p, &actor.name, ops.now_ms())
        .await?;
    ops.audit(
        actor,
        "autoscale.policy",
        Some(format!(
            "{}: {}–{} on {}{}",
            p.service,
            p.min,
            p.max,
            p.metric.as_str(),
            if p.dry_run { " (dry run)" } else { "" }
        )),
    )
    .await;
    Ok(p)
}

pub async fn delete_policy(ops: &Ops, actor: &Actor, service: &str) -> OpResult<()> {
    Ops::require(actor, Role::Editor)?;
    if !ops.store().delete_policy(service).await? {
        return Err(OpError::NotFound(format!("{service} has no policy")));
    }
    ops.audit(actor, "autoscale.policy.delete", Some(service.to_string()))
        .await;
    Ok(())
}

/// Replays a policy (stored or not) over the last 6 hours: where it
/// would have scaled, from the replicas running now.
pub async fn preview(
    ops: &Ops,
    engine: &crate::promql::Engine,
    p: &Policy,
) -> OpResult<dozor_ui::pages::services::scaling::Preview> {
    check(p).map_err(fields)?;
    let s = ops
        .store()
        .service(&p.service)
        .await?
        .ok_or_else(|| OpError::NotFound(format!("no service called {}", p.service)))?;
    let running = running(ops, &s.spec.host, &p.service).await?;
    Ok(crate::autoscale::preview::replay(engine, p, &s.spec.host, running, ops.now_ms()).await)
}

/// Sets a service's replicas by hand, within its policy's bounds if it
/// has one.
pub async fn scale_to(ops: &Ops, actor: &Actor, service: &str, to: u32) -> OpResult<ScaleEvent> {
    Ops::require(actor, Role::Editor)?;
    let s = ops
        .store()
        .service(service)
        .await?
        .ok_or_else(|| OpError::NotFound(format!("no service called {service}")))?;
    let p = policy(ops, service).await?;
    let (min, max) = p.as_ref().map(|p| (p.min, p.max)).unwrap_or((1, 100));
    if to < min || to > max {
        return Err(OpError::Invalid(format!(
            "{to} replicas is outside the policy's {min}–{max}"
        )));
    }
    let from = running(ops, &s.spec.host, service).await?;
    let direction = if to >= from {
        Direction::Up
    } else {
        Direction::Down
    };
    let e = ScaleEvent {
        id: 0,
        service: service.to_string(),
        ts_ms: ops.now_ms(),
        kind: "scale".into(),
        direction: direction.as_str().into(),
        from,
        to,
        value: None,
        reason: "set by hand".into(),
        dry_run: false,
        actor: actor.name.clone(),
        task_id: None,
        result: None,
        finished_ms: None,
    };
    let e = carry_out(ops, e, p.as_ref()).await?;
    ops.audit(
        actor,
        "autoscale.scale",
        Some(format!("{service}: {from} → {to}")),
    )
    .await;
    Ok(e)
}

/// A service's running containers as its host last reported them.
pub async fn running(ops: &Ops, host: &str, service: &str) -> OpResult<u32> {
    Ok(ops
        .store()
        .containers(Some(host))
        .await?
        .iter()
        .filter(|c| {
            c.info.state == "running"
                && c.info
                    .labels
                    .get(dozor_common::services::SERVICE_LABEL)
                    .map(String::as_str)
                    == Some(service)
        })
        .count() as u32)
}

/// Records a scale and, unless it is a dry run, hands it to the service's
/// host. The event is stored before the task, with the task keyed by the
/// event: whatever stops in between, the next settle finds it.
pub async fn carry_out(ops: &Ops, mut e: ScaleEvent, p: Option<&Policy>) -> OpResult<ScaleEvent> {
    e.id = ops.store().add_scale_event(&e).await?;
    if e.actor == "policy" {
        // A person's scale is audited under their name by `scale_to`.
        ops.audit(
            &super::Actor::system("autoscaler"),
            "autoscale.decision",
            Some(format!(
                "{}: {} → {} ({}{})",
                e.service,
                e.from,
                e.to,
                e.reason,
                if e.dry_run { ", dry run" } else { "" }
            )),
        )
        .await;
    }
    if e.dry_run {
        if let Err(err) = tell(ops, &e).await {
            tracing::warn!(service = %e.service, error = %err, "a dry-run decision was not notified");
        }
    } else {
        submit(ops, &mut e, p).await?;
    }
    Ok(e)
}

async fn submit(ops: &Ops, e: &mut ScaleEvent, p: Option<&Policy>) -> OpResult<()> {
    let s = ops
        .store()
        .service(&e.service)
        .await?
        .ok_or_else(|| OpError::NotFound(format!("no service called {}", e.service)))?;
    let agent = ops.store().agent_by_name(&s.spec.host).await?;
    let why = match agent.filter(|a| a.revoked_ms.is_none()) {
        None => Err(format!("the host {} has no agent", s.spec.host)),
        Some(a) => {
            let supported = ops
                .store()
                .capabilities(a.id)
                .await?
                .is_some_and(|c| c.task_kinds.iter().any(|k| k == ScaleService::NAME));
            if supported {
                Ok(a)
            } else {
                Err("the host's agent cannot scale services; upgrade its collector".to_string())
            }
        }
    };
    let agent = match why {
        Ok(a) => a,
        Err(why) => {
            ops.store()
                .finish_scale_event(e.id, &why, ops.now_ms())
                .await?;
            e.result = Some(why.clone());
            return Err(OpError::Invalid(why));
        }
    };
    let req = Scale {
        service: e.service.clone(),
        replicas: e.to,
        template: p.and_then(|p| p.template.clone()),
        drain_s: p.map(|p| p.drain_s).unwrap_or(10),
    };
    let task = NewTask {
        agent_id: agent.id,
        kind: ScaleService::NAME.to_string(),
        payload: serde_json::to_value(&req).expect("scale requests serialise"),
        idempotency_key: Some(format!("autoscale:{}", e.id)),
    };
    let id = ops.tasks().enqueue(ops.store(), &task).await?;
    ops.store().set_scale_task(e.id, id).await?;
    e.task_id = Some(id);
    Ok(())
}

/// Settles scales whose host answered; resubmits (same key, so the same
/// task) any stored before its task was. Returns the settled ones.
pub async fn settle(ops: &Ops) -> OpResult<Vec<ScaleEvent>> {
    let mut done = Vec::new();
    for mut e in ops.store().unfinished_scales().await? {
        let Some(task) = e.task_id else {
            let p = policy(ops, &e.service).await?;
            if let Err(err) = submit(ops, &mut e, p.as_ref()).await {
                tracing::warn!(service = %e.service, error = %err, "a scale could not be handed over");
            }
            continue;
        };
        let outcome = ops
            .tasks()
            .outcome::<ScaleService>(ops.store(), task)
            .await?;
        let result = match outcome {
            None => {
                // A task not taken within its life never will be (the
                // host was away); one taken gets ten minutes (drains and
                // stops take time) before it counts as lost.
                let age = ops.now_ms() - e.ts_ms;
                let taken = ops
                    .store()
                    .task(task)
                    .await?
                    .is_some_and(|t| t.delivered_ms.is_some());
                if !taken && age > crate::storage::TASK_MAX_AGE_MS + 5_000 {
                    "the host did not take the task within a minute (offline?)".to_string()
                } else if age > 10 * 60_000 {
                    "no answer from the host within 10 minutes".to_string()
                } else {
                    continue;
                }
            }
            Some(Ok(Scaled { after, .. })) if after == e.to => "ok".to_string(),
            Some(Ok(s)) => format!(
                "the host runs {} (created {}, removed {})",
                s.after,
                s.created.len(),
                s.removed.len()
            ),
            Some(Err(err)) => err.to_string(),
        };
        ops.store()
            .finish_scale_event(e.id, &result, ops.now_ms())
            .await?;
        e.result = Some(result);
        if let Err(err) = tell(ops, &e).await {
            tracing::warn!(service = %e.service, error = %err, "a scale was not notified");
        }
        done.push(e);
    }
    Ok(done)
}

pub async fn events(ops: &Ops, service: Option<&str>, since_ms: i64) -> OpResult<Vec<ScaleEvent>> {
    Ok(ops.store().scale_events(service, since_ms).await?)
}

/// Every settled scale, and every dry-run decision, goes to the default
/// channel's chats as a `ServiceScaled` message, grouped by service as
/// alerts are.
async fn tell(ops: &Ops, e: &ScaleEvent) -> crate::storage::Result<()> {
    let ok = e.dry_run || e.result.as_deref() == Some("ok");
    let labels = [
        ("alertname", "ServiceScaled"),
        ("service", e.service.as_str()),
        ("severity", if ok { "info" } else { "warning" }),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let value = e.value.map(|v| format!(" at {v:.2}")).unwrap_or_default();
    let summary = if e.dry_run {
        format!(
            "{} would scale {} {} → {} ({}{value}; dry run, nothing changed)",
            e.service, e.direction, e.from, e.to, e.reason
        )
    } else if ok {
        format!(
            "{} scaled {} {} → {} ({}{value})",
            e.service, e.direction, e.from, e.to, e.reason
        )
    } else {
        format!(
            "{} could not scale {} {} → {}: {}",
            e.service,
            e.direction,
            e.from,
            e.to,
            e.result.as_deref().unwrap_or("")
        )
    };
    let annotations = [
        ("summary".to_string(), summary),
        (
            "description".to_string(),
            format!(
                "Asked by {}; the service's Scaling screen has every decision.",
                e.actor
            ),
        ),
    ];
    // The "default" channel: configured chats and webhooks, and chats
    // linked to it.
    let fixed = ops
        .alerting()
        .map(|a| a.config.targets(&["default".into()], &[]))
        .unwrap_or_default();
    let targets = crate::alerting::self_alert::default_targets(ops.store(), &fixed).await?;
    crate::alerting::self_alert::queue(
        ops.store(),
        targets,
        labels,
        &annotations,
        if ok { "info" } else { "warning" },
        &format!("scale-{}", e.id),
        ops.now_ms(),
    )
    .await
}
