//! Traffic protection: the fleet's settings and the allowlist (admins),
//! manual blocks and unblocks (admins), what agents report (their blocks
//! and bad-path hits) and the fleet rule over those reports. Every change
//! that hosts must follow is published in every host's desired state, so
//! a host that was offline converges when it returns. The dashboard, the
//! JSON API and the heartbeat handler all come here.

use super::{Actor, OpError, OpResult, Ops};
use crate::storage::{BlockRecord, NewBlock, Role};
use dozor_common::cidr::Cidr;
use dozor_common::protection::{check, Reason, Settings, WafReport};
use dozor_common::services::FieldError;

fn field(field: &'static str, message: String) -> OpError {
    OpError::Fields(vec![FieldError { field, message }])
}

pub async fn settings(ops: &Ops) -> OpResult<Settings> {
    Ok(ops.store().protection_settings().await?)
}

pub async fn save_settings(ops: &Ops, actor: &Actor, s: Settings) -> OpResult<Settings> {
    Ops::require(actor, Role::Admin)?;
    check(&s).map_err(OpError::Fields)?;
    ops.store()
        .set_protection_settings(&s, &actor.name, ops.now_ms())
        .await?;
    publish_all(ops).await?;
    ops.audit(actor, "protection.settings", None).await;
    Ok(s)
}

/// Blocks `address` on every host for `ttl_s` (None: until unblocked).
pub async fn block(
    ops: &Ops,
    actor: &Actor,
    address: &str,
    ttl_s: Option<u32>,
) -> OpResult<BlockRecord> {
    Ops::require(actor, Role::Admin)?;
    let cidr: Cidr = address.trim().parse().map_err(|e| field("address", e))?;
    let settings = settings(ops).await?;
    if let Some(a) = settings
        .allowlist
        .iter()
        .find(|a| a.contains(cidr.addr()) || cidr.contains(a.addr()))
    {
        return Err(field(
            "address",
            format!("{cidr} overlaps {a} on the allowlist: take it off the allowlist first"),
        ));
    }
    if ttl_s == Some(0) {
        return Err(field("ttl", "a block lasts at least a second".into()));
    }
    let now = ops.now_ms();
    let id = ops
        .store()
        .add_block(&NewBlock {
            address: cidr.to_string(),
            host: None,
            service: String::new(),
            reason: Reason::Manual.as_str().into(),
            hits: 0,
            dry_run: false,
            created_by: actor.name.clone(),
            since_ms: now,
            until_ms: ttl_s.map(|t| now + i64::from(t) * 1000),
        })
        .await?;
    publish_all(ops).await?;
    ops.audit(actor, "waf.block", Some(cidr.to_string())).await;
    ops.store()
        .block(id)
        .await?
        .ok_or_else(|| OpError::NotFound(format!("block {id}")))
}

/// Ends a block, wherever it is in force.
pub async fn unblock(ops: &Ops, actor: &Actor, id: i64) -> OpResult<BlockRecord> {
    Ops::require(actor, Role::Admin)?;
    let Some(b) = ops.store().block(id).await? else {
        return Err(OpError::NotFound(format!("no block {id}")));
    };
    if !ops
        .store()
        .remove_block(id, &actor.name, ops.now_ms())
        .await?
    {
        return Err(OpError::Conflict(format!("block {id} is already over")));
    }
    publish_all(ops).await?;
    ops.audit(actor, "waf.unblock", Some(b.address.clone()))
        .await;
    Ok(b)
}

/// What an agent's heartbeat said: its blocks are recorded as history,
/// its bad-path hits feed the fleet rule.
pub async fn report(ops: &Ops, host: &str, r: &WafReport) -> OpResult<()> {
    let store = ops.store();
    for e in &r.blocks {
        store
            .add_block(&NewBlock {
                address: e.address.to_string(),
                host: Some(host.to_string()),
                service: e.service.clone(),
                reason: e.reason.as_str().into(),
                hits: i64::from(e.hits),
                dry_run: e.dry_run,
                created_by: format!("rule on {host}"),
                since_ms: e.since_ms,
                until_ms: Some(e.until_ms),
            })
            .await?;
        if !e.dry_run {
            let actor = Actor::system(&format!("rule on {host}"));
            let what = format!("{} ({} on {})", e.address, e.reason.as_str(), e.service);
            ops.audit(&actor, "waf.block", Some(what)).await;
        }
    }
    let now = ops.now_ms();
    store.record_activity(host, &r.activity, now).await?;
    if r.bad_paths.is_empty() {
        return Ok(());
    }
    let hits: Vec<(String, String, i64)> = r
        .bad_paths
        .iter()
        .map(|h| (h.address.to_string(), h.service.clone(), i64::from(h.hits)))
        .collect();
    store.record_bad_paths(host, &hits, now).await?;
    fleet_rule(ops, &hits, now).await
}

/// One address hitting bad paths on `fleet_spread` or more services or
/// hosts within the window is blocked everywhere.
async fn fleet_rule(ops: &Ops, hits: &[(String, String, i64)], now: i64) -> OpResult<()> {
    let s = settings(ops).await?;
    if s.fleet_spread == 0 || !s.bad_paths.enabled {
        return Ok(());
    }
    let store = ops.store();
    let since = now - i64::from(s.fleet_window_s) * 1000;
    let active = store.blocks(now, 10_000).await?;
    let mut blocked_any = false;
    let mut addresses: Vec<&String> = hits.iter().map(|h| &h.0).collect();
    addresses.sort();
    addresses.dedup();
    for address in addresses {
        let Ok(cidr) = address.parse::<Cidr>() else {
            continue;
        };
        if s.allowlist.iter().any(|a| a.contains(cidr.addr())) {
            continue;
        }
        if active
            .iter()
            .any(|b| b.host.is_none() && b.address == *address && b.active(now))
        {
            continue;
        }
        let spread = store.bad_path_spread(address, since).await?;
        if spread < i64::from(s.fleet_spread) {
            continue;
        }
        store
            .add_block(&NewBlock {
                address: address.clone(),
                host: None,
                service: String::new(),
                reason: Reason::Fleet.as_str().into(),
                hits: spread,
                dry_run: s.bad_paths.dry_run,
                created_by: "fleet rule".into(),
                since_ms: now,
                until_ms: Some(now + i64::from(s.ttl_s) * 1000),
            })
            .await?;
        let actor = Actor::system("fleet rule");
        ops.audit(
            &actor,
            "waf.fleet_block",
            Some(format!(
                "{address}: bad paths on {spread} services or hosts"
            )),
        )
        .await;
        blocked_any |= !s.bad_paths.dry_run;
    }
    store.prune_bad_paths(now - 86_400_000).await?;
    if blocked_any {
        publish_all(ops).await?;
    }
    Ok(())
}

/// An agent's heartbeat came from `ip`: dozor's own addresses are never
/// blocked, so a new one goes into every host's document.
pub async fn agent_seen(ops: &Ops, agent_id: i64, ip: std::net::IpAddr) -> OpResult<()> {
    if ops.agent_addresses().get(&agent_id) == Some(&ip) {
        return Ok(());
    }
    let ip = dozor_common::cidr::Cidr::host(ip).addr();
    if ops
        .store()
        .set_agent_address(agent_id, &ip.to_string())
        .await?
    {
        publish_all(ops).await?;
    }
    ops.agent_addresses().insert(agent_id, ip);
    Ok(())
}

/// Every host's document again, and each agent woken.
async fn publish_all(ops: &Ops) -> OpResult<()> {
    for a in ops.store().list_agents().await? {
        if a.revoked_ms.is_none() {
            crate::desired::publish(ops.store(), &a, ops.now_ms()).await?;
            ops.tasks().ring(a.id);
        }
    }
    Ok(())
}
