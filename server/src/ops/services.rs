//! Services and error pages (editors and admins): checked with the rules
//! the agent checks again, stored whole or not at all, audited, and
//! published in the desired state of every host they touch. The
//! dashboard, the JSON API and tests all come here.

use super::{Actor, OpError, OpResult, Ops};
use crate::storage::{Role, Saved, ServiceRecord};
use dozor_common::services::error_pages;
use dozor_common::services::members::{members, Candidate, Member};
use dozor_common::services::render::{render, Rendered, Settings};
use dozor_common::services::validate::{check, FieldError};
use dozor_common::services::{NginxInfo, Service};

fn field(field: &'static str, message: String) -> OpError {
    OpError::Fields(vec![FieldError { field, message }])
}

/// Creates (`create`) or replaces a service; returns it as stored
/// (domains normalised).
pub async fn save(ops: &Ops, actor: &Actor, spec: Service, create: bool) -> OpResult<Service> {
    Ops::require(actor, Role::Editor)?;
    let s = check(&spec).map_err(OpError::Fields)?;
    if super::containers::agent(ops, &s.host).await.is_err() {
        return Err(field(
            "host",
            format!("no active agent called {:?}", s.host),
        ));
    }
    let saved = ops
        .store()
        .save_service(&s, create, &actor.name, ops.now_ms())
        .await?;
    let old_host = match saved {
        Saved::Ok { old_host } => old_host,
        Saved::NameTaken => {
            return Err(field("name", format!("a service called {} exists", s.name)));
        }
        Saved::Missing => return Err(OpError::NotFound(format!("no service called {}", s.name))),
        Saved::RouteTaken { domain, path, by } => {
            return Err(field(
                "domains",
                format!("{domain}{path} on {} is already served by {by}", s.host),
            ));
        }
    };
    publish(ops, &s.host).await?;
    if let Some(h) = &old_host {
        publish(ops, h).await?;
    }
    let action = if create {
        "service.create"
    } else {
        "service.update"
    };
    ops.audit(actor, action, Some(format!("{} on {}", s.name, s.host)))
        .await;
    Ok(s)
}

pub async fn delete(ops: &Ops, actor: &Actor, name: &str) -> OpResult<ServiceRecord> {
    Ops::require(actor, Role::Editor)?;
    let Some(r) = ops.store().delete_service(name).await? else {
        return Err(OpError::NotFound(format!("no service called {name}")));
    };
    // Its certificate goes with it (the host removes the files, key
    // included, once its document no longer names it).
    ops.store().delete_certificate(name).await?;
    publish(ops, &r.spec.host).await?;
    ops.audit(
        actor,
        "service.delete",
        Some(format!("{name} on {}", r.spec.host)),
    )
    .await;
    Ok(r)
}

/// Stores an error page for every service (`service` None) or one
/// service's override; `html` None goes back to dozor's page (global) or
/// the global one (override).
pub async fn set_error_page(
    ops: &Ops,
    actor: &Actor,
    service: Option<&str>,
    status: u16,
    html: Option<&str>,
) -> OpResult<()> {
    Ops::require(actor, Role::Editor)?;
    if let Some(h) = html {
        error_pages::check(status, h).map_err(|e| field("html", e))?;
    } else if !error_pages::STATUSES.contains(&status) {
        return Err(field("status", format!("dozor has no page for {status}")));
    }
    let hosts: Vec<String> = match service {
        Some(name) => match ops.store().service(name).await? {
            Some(r) => vec![r.spec.host],
            None => return Err(OpError::NotFound(format!("no service called {name}"))),
        },
        None => {
            let mut h: Vec<String> = ops
                .store()
                .services(None)
                .await?
                .into_iter()
                .map(|r| r.spec.host)
                .collect();
            h.sort();
            h.dedup();
            h
        }
    };
    ops.store()
        .set_error_page(
            service.unwrap_or(""),
            status,
            html,
            &actor.name,
            ops.now_ms(),
        )
        .await?;
    for h in &hosts {
        publish(ops, h).await?;
    }
    let what = match service {
        Some(s) => format!("{status} for {s}"),
        None => format!("{status} for every service"),
    };
    let action = if html.is_some() {
        "error_page.set"
    } else {
        "error_page.reset"
    };
    ops.audit(actor, action, Some(what)).await;
    Ok(())
}

/// Publishes the host's document and wakes its agent's long-poll, so the
/// change arrives within a second.
pub(super) async fn publish(ops: &Ops, host: &str) -> OpResult<()> {
    if let Some(a) = ops.store().agent_by_name(host).await? {
        if a.revoked_ms.is_none() {
            crate::desired::publish(ops.store(), &a, ops.now_ms()).await?;
            ops.tasks().ring(a.id);
        }
    }
    Ok(())
}

/// A host's services as its agent will serve them: the members each has
/// now (from the host's last inventory) and the nginx config the agent
/// renders from the same inputs.
#[derive(Debug, Clone)]
pub struct HostView {
    pub members: std::collections::BTreeMap<String, Vec<Member>>,
    pub rendered: Rendered,
    /// How the agent runs nginx; None when it does not (the config is then
    /// rendered for port 80 and /etc/nginx/conf.d/dozor, as a default
    /// agent would).
    pub nginx: Option<NginxInfo>,
}

pub async fn host_view(ops: &Ops, host: &str) -> OpResult<HostView> {
    let store = ops.store();
    let doc = crate::desired::services::doc(store, host)
        .await?
        .unwrap_or_default();
    let nginx = match store.agent_by_name(host).await? {
        Some(a) => store.capabilities(a.id).await?.and_then(|c| c.nginx),
        None => None,
    };
    let reachable: Vec<String> = match nginx
        .as_ref()
        .and_then(|n| n.mode.strip_prefix("container:"))
    {
        // The networks nginx's container is on, as its agent sees them.
        Some(name) => store
            .containers(Some(host))
            .await?
            .into_iter()
            .find(|c| c.info.name == name)
            .map(|c| c.info.networks)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let candidates: Vec<Candidate> = store
        .containers(Some(host))
        .await?
        .iter()
        .map(|c| Candidate::from_info(&c.info, &reachable))
        .collect();
    let members: std::collections::BTreeMap<_, _> = doc
        .services
        .iter()
        .map(|s| (s.name.clone(), members(s, &candidates)))
        .collect();
    let settings = match &nginx {
        Some(n) => Settings::from_info(n),
        None => Settings::new(80, "/etc/nginx/conf.d/dozor"),
    }
    .map_err(OpError::Invalid)?;
    // The certificates the host last said it holds; OCSP stapling is
    // decided on the host from the certificate itself, which is not here.
    let mut settings = settings;
    for c in store.certificates(None).await? {
        if let Some(r) = c.report.filter(|r| r.not_after.is_some() && !c.revoke) {
            settings.tls.insert(
                c.service,
                dozor_common::services::tls::Held {
                    sans: r.sans,
                    ocsp: false,
                },
            );
        }
    }
    let rendered = render(&doc, &members, &settings);
    Ok(HostView {
        members,
        rendered,
        nginx,
    })
}
