//! Checks (editors and admins): checked with the rules the agent checks
//! again, stored, audited, and published to the agents that run them. A
//! probe is a request from inside a host's network, so a target that is
//! or resolves to a private address needs an admin.

use super::{Actor, OpError, OpResult, Ops};
use crate::storage::Role;
use dozor_common::checks::{check, host_port, private, Check};

/// Creates or replaces a check.
pub async fn save(ops: &Ops, actor: &Actor, c: Check) -> OpResult<Check> {
    Ops::require(actor, Role::Editor)?;
    check(&c).map_err(OpError::Fields)?;
    let (host, port) = host_port(&c).map_err(OpError::Invalid)?;
    let resolved: Vec<std::net::IpAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map(|a| a.map(|a| a.ip()).collect())
            .unwrap_or_default(),
    };
    if resolved.iter().any(|ip| private(*ip)) && actor.role < Role::Admin {
        return Err(OpError::Forbidden(Role::Admin));
    }
    ops.store()
        .save_check(&c, &actor.name, ops.now_ms())
        .await?;
    publish_all(ops).await?;
    ops.audit(
        actor,
        "check.save",
        Some(format!("{} ({})", c.name, c.target)),
    )
    .await;
    Ok(c)
}

pub async fn delete(ops: &Ops, actor: &Actor, name: &str) -> OpResult<()> {
    Ops::require(actor, Role::Editor)?;
    if !ops.store().delete_check(name).await? {
        return Err(OpError::NotFound(format!("no check called {name}")));
    }
    publish_all(ops).await?;
    ops.audit(actor, "check.delete", Some(name.to_string()))
        .await;
    Ok(())
}

/// Every agent's document again (a check names its agents, or all).
async fn publish_all(ops: &Ops) -> OpResult<()> {
    for a in ops.store().list_agents().await? {
        if a.revoked_ms.is_none() {
            crate::desired::publish(ops.store(), &a, ops.now_ms()).await?;
            ops.tasks().ring(a.id);
        }
    }
    Ok(())
}
