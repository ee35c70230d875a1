//! Scrape targets defined on the server for a host (admins). Checked with
//! the collector's own rules, stored, audited, and published in the host's
//! desired state, which its agent converges on.

use super::{Actor, OpError, OpResult, Ops};
use crate::storage::{Role, ServerTarget};

/// A new target as the form sends it.
#[derive(Debug, Clone, Default)]
pub struct NewTarget {
    pub host: String,
    pub job: String,
    pub url: String,
    /// Empty: the collector's interval.
    pub interval: String,
    /// Empty: prometheus.
    pub format: String,
}

/// Adds a target; the host's agent starts scraping it once it has the new
/// desired state.
pub async fn create(ops: &Ops, actor: &Actor, t: NewTarget) -> OpResult<()> {
    Ops::require(actor, Role::Admin)?;
    let format = if t.format.is_empty() {
        "prometheus".to_string()
    } else {
        t.format
    };
    let interval = (!t.interval.is_empty()).then_some(t.interval);
    // The collector's own checks, so what is saved will run.
    let spec = dozor_collector::scrape::target::TargetSpec {
        job: t.job.clone(),
        url: t.url.clone(),
        interval: interval.clone(),
        format: Some(format.clone()),
        ..Default::default()
    };
    spec.compile(std::time::Duration::from_secs(10))
        .map_err(|e| OpError::Invalid(e.to_string()))?;
    let agent = super::containers::agent(ops, &t.host).await?;
    let row = ServerTarget {
        id: 0,
        host: t.host.clone(),
        job: t.job,
        url: t.url.clone(),
        interval,
        format,
        created_by: actor.name.clone(),
        created_ms: ops.now_ms(),
    };
    if ops.store().create_server_target(&row).await?.is_none() {
        return Err(OpError::Conflict(
            "That host already has this job and URL.".into(),
        ));
    }
    crate::desired::publish(ops.store(), &agent, ops.now_ms()).await?;
    ops.audit(
        actor,
        "target.create",
        Some(format!("{} {}", t.host, t.url)),
    )
    .await;
    Ok(())
}

/// Removes a target; returns its host.
pub async fn delete(ops: &Ops, actor: &Actor, id: i64) -> OpResult<String> {
    Ops::require(actor, Role::Admin)?;
    let Some(t) = ops.store().delete_server_target(id).await? else {
        return Err(OpError::NotFound("No such target.".into()));
    };
    crate::desired::publish_host(ops.store(), &t.host, ops.now_ms()).await?;
    ops.audit(
        actor,
        "target.delete",
        Some(format!("{} {}", t.host, t.url)),
    )
    .await;
    Ok(t.host)
}
