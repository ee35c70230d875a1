//! Certificates: the fleet's ACME account (admins); issue, renew now,
//! revoke and upload for a service (editors and admins); and what hosts
//! report. Issue, renew and revoke change the service's host's desired
//! state, so a host that is offline acts when it returns; an upload is a
//! task to that host alone, and its key is not kept here once the task
//! ends. The dashboard, the JSON API and the heartbeat handler come here.

use super::services::publish;
use super::{Actor, OpError, OpResult, Ops};
use crate::storage::{CertRecord, Role, ServiceRecord};
use dozor_common::certs::{self, inspect, Acme, Install, InstallCertificate, Report, Source};
use dozor_common::services::FieldError;
use std::time::Duration;

/// How long an upload waits for its host to install it.
const INSTALL_WAIT: Duration = Duration::from_secs(20);

fn field(field: &'static str, message: impl Into<String>) -> OpError {
    OpError::Fields(vec![FieldError {
        field,
        message: message.into(),
    }])
}

pub async fn list(ops: &Ops) -> OpResult<Vec<CertRecord>> {
    Ok(ops.store().certificates(None).await?)
}

pub async fn acme(ops: &Ops) -> OpResult<Option<Acme>> {
    Ok(ops.store().acme().await?)
}

/// Checks the account settings as the agents will use them.
fn check_acme(a: &Acme) -> OpResult<()> {
    let url = a.directory.trim();
    if !url.starts_with("https://") || url.len() > 2048 || url.contains(char::is_whitespace) {
        return Err(field(
            "directory",
            "the ACME directory is an https:// URL (Let's Encrypt's, or your CA's)",
        ));
    }
    let email = a.email.trim();
    if !email.is_empty()
        && (email.len() > 254
            || !email.contains('@')
            || email.contains(|c: char| c.is_whitespace() || c == ',' || c == '<' || c == '>'))
    {
        return Err(field("email", "not an e-mail address"));
    }
    if let Some(pem) = a.extra_ca_pem.as_deref().filter(|p| !p.trim().is_empty()) {
        inspect::chain(pem).map_err(|e| field("extra_ca", e))?;
    }
    Ok(())
}

pub async fn set_acme(ops: &Ops, actor: &Actor, mut a: Acme) -> OpResult<Acme> {
    Ops::require(actor, Role::Admin)?;
    a.directory = a.directory.trim().to_string();
    a.email = a.email.trim().to_string();
    a.extra_ca_pem = a.extra_ca_pem.filter(|p| !p.trim().is_empty());
    check_acme(&a)?;
    ops.store().set_acme(&a, &actor.name, ops.now_ms()).await?;
    for r in ops.store().certificates(None).await? {
        publish(ops, &r.host).await?;
    }
    ops.audit(actor, "acme.account", Some(a.directory.clone()))
        .await;
    Ok(a)
}

async fn service(ops: &Ops, name: &str) -> OpResult<ServiceRecord> {
    ops.store()
        .service(name)
        .await?
        .ok_or_else(|| OpError::NotFound(format!("no service called {name}")))
}

async fn row(ops: &Ops, name: &str) -> OpResult<CertRecord> {
    ops.store()
        .certificate(name)
        .await?
        .ok_or_else(|| OpError::NotFound(format!("{name} has no certificate")))
}

/// Has the service's host obtain a certificate for its domains over ACME
/// (again, when it had one).
pub async fn issue(ops: &Ops, actor: &Actor, name: &str) -> OpResult<CertRecord> {
    Ops::require(actor, Role::Editor)?;
    let s = service(ops, name).await?;
    if ops.store().acme().await?.is_none() {
        return Err(OpError::Invalid(
            "no ACME account is set yet: an admin sets it on the Certificates screen".into(),
        ));
    }
    if let Some(why) = s.spec.domains.iter().find_map(|d| certs::acme_refuses(d)) {
        return Err(OpError::Invalid(why));
    }
    ops.store()
        .want_certificate(name, &s.spec.host, Source::Acme, &actor.name, ops.now_ms())
        .await?;
    publish(ops, &s.spec.host).await?;
    ops.audit(
        actor,
        "certificate.issue",
        Some(format!("{name} ({})", s.spec.domains.join(", "))),
    )
    .await;
    row(ops, name).await
}

/// Renews now, whatever the dates say.
pub async fn renew(ops: &Ops, actor: &Actor, name: &str) -> OpResult<CertRecord> {
    Ops::require(actor, Role::Editor)?;
    let r = row(ops, name).await?;
    if r.source == Source::Upload {
        return Err(OpError::Invalid(
            "an uploaded certificate is renewed by uploading its successor".into(),
        ));
    }
    if r.revoke {
        return Err(OpError::Invalid("it was revoked: issue a new one".into()));
    }
    ops.store().renew_certificate(name).await?;
    let s = service(ops, name).await?;
    publish(ops, &s.spec.host).await?;
    ops.audit(actor, "certificate.renew", Some(name.to_string()))
        .await;
    row(ops, name).await
}

/// Stops serving it and tells the CA (ACME); the service goes back to
/// HTTP until a new one is issued or uploaded.
pub async fn revoke(ops: &Ops, actor: &Actor, name: &str) -> OpResult<CertRecord> {
    Ops::require(actor, Role::Editor)?;
    row(ops, name).await?;
    ops.store().revoke_certificate(name).await?;
    let s = service(ops, name).await?;
    publish(ops, &s.spec.host).await?;
    ops.audit(actor, "certificate.revoke", Some(name.to_string()))
        .await;
    row(ops, name).await
}

/// Checks an uploaded certificate and key (they match, are valid now and
/// cover every domain), sends them to the service's host alone and, once
/// it installed them, records the certificate as uploaded.
pub async fn upload(
    ops: &Ops,
    actor: &Actor,
    name: &str,
    chain_pem: &str,
    key_pem: &str,
) -> OpResult<Report> {
    Ops::require(actor, Role::Editor)?;
    let s = service(ops, name).await?;
    let now_s = ops.now_ms() / 1000;
    inspect::check_upload(chain_pem, key_pem, &s.spec.domains, now_s)
        .map_err(|e| field("certificate", e))?;
    let agent = ops
        .store()
        .agent_by_name(&s.spec.host)
        .await?
        .filter(|a| a.revoked_ms.is_none())
        .ok_or_else(|| OpError::Invalid(format!("the host {} has no agent", s.spec.host)))?;
    let req = Install {
        service: name.to_string(),
        domains: s.spec.domains.clone(),
        chain_pem: chain_pem.to_string(),
        key_pem: key_pem.to_string(),
    };
    let called = ops
        .tasks()
        .call::<InstallCertificate>(ops.store(), &agent, &req, ops.now_ms(), INSTALL_WAIT)
        .await;
    if let Ok((id, _)) = &called {
        // Whatever came of it, the key does not stay in the task table.
        if let Err(e) = ops.store().scrub_task(*id).await {
            tracing::error!(error = %e, task_id = id, "an uploaded key could not be scrubbed from its task");
        }
    }
    let report = match called {
        Ok((_, out)) => out?,
        Err(crate::tasks::CallError::Task(e)) => return Err(e.into()),
        Err(crate::tasks::CallError::Storage(e)) => return Err(e.into()),
    };
    ops.store()
        .want_certificate(
            name,
            &s.spec.host,
            Source::Upload,
            &actor.name,
            ops.now_ms(),
        )
        .await?;
    ops.store()
        .record_cert_reports(&s.spec.host, std::slice::from_ref(&report), ops.now_ms())
        .await?;
    publish(ops, &s.spec.host).await?;
    ops.audit(
        actor,
        "certificate.upload",
        Some(format!("{name} ({})", report.sans.join(", "))),
    )
    .await;
    Ok(report)
}

/// A host's reports: kept for the services that live on it.
pub async fn report(ops: &Ops, host: &str, reports: &[Report]) -> OpResult<()> {
    let mine: Vec<Report> = {
        let services = ops.store().services(Some(host)).await?;
        reports
            .iter()
            .filter(|r| services.iter().any(|s| s.spec.name == r.service))
            .cloned()
            .collect()
    };
    ops.store()
        .record_cert_reports(host, &mine, ops.now_ms())
        .await?;
    Ok(())
}
