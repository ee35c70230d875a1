//! Certificates on this host: the `certificates` section says which
//! services must hold one and where from; this loop makes it so. An ACME
//! certificate is issued when missing, when it no longer covers the
//! service's domains, when a third of its lifetime is left, or when a user
//! asked for a renewal; a failure waits (doubling, longer for a CA's rate
//! limit) instead of retrying in a loop. Every change goes to nginx
//! through its controller, which renders an HTTPS server block for each
//! domain a held certificate covers. What happened is reported to the
//! server (state, dates, last error) and as metrics; keys never leave.

pub mod acme;
pub mod report;
pub mod store;

use crate::agent::{now_ms, Agent};
use crate::nginx::Controller;
use crate::output::Output;
use dozor_common::certs::{self, Acme, CertsDoc, Report, Source, State, Wanted};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Store;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What the agent remembers of a certificate's attempts (kept on disk).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Track {
    pub source: Source,
    pub state: State,
    pub last_attempt: Option<i64>,
    pub error: Option<String>,
    pub rate_limited: bool,
    pub failures: u32,
    /// Unix seconds before which no new attempt is made.
    pub next_try: Option<i64>,
    /// The last "renew now" acted on.
    pub renew_done: u64,
}

/// A certificate installed this recently is kept even when the section
/// does not name it yet: an upload's task can overtake the document.
const FRESH: Duration = Duration::from_secs(120);

pub struct Manager {
    pub(crate) store: Store,
    nginx: Arc<Controller>,
    pub(crate) doc: Mutex<Option<CertsDoc>>,
    wake: Notify,
    /// One pass at a time (the loop, an upload).
    pass: tokio::sync::Mutex<()>,
    /// What the server has been told, and what is due.
    pub outbox: Mutex<report::Outbox>,
}

pub(crate) fn now_s() -> i64 {
    now_ms() / 1000
}

impl Manager {
    pub fn new(nginx: Arc<Controller>) -> Arc<Self> {
        Arc::new(Self {
            store: Store::new(&nginx.info().dir),
            nginx,
            doc: Mutex::new(None),
            wake: Notify::new(),
            pass: tokio::sync::Mutex::new(()),
            outbox: Mutex::new(report::Outbox::default()),
        })
    }

    /// A new section: acted on at once.
    pub fn apply(&self, doc: CertsDoc) -> Result<(), String> {
        for w in &doc.certs {
            dozor_common::services::validate::name(&w.service)
                .map_err(|e| format!("certificate for {:?}: {e}", w.service))?;
        }
        *self.doc.lock().expect("certs lock") = Some(doc);
        self.wake.notify_one();
        Ok(())
    }

    /// Installs an uploaded certificate after checking it again here.
    pub async fn install(
        &self,
        agent: &Agent,
        service: &str,
        domains: &[String],
        chain: &str,
        key: &str,
    ) -> Result<Report, String> {
        dozor_common::services::validate::name(service).map_err(|e| e.to_string())?;
        certs::inspect::check_upload(chain, key, domains, now_s())?;
        let _pass = self.pass.lock().await;
        self.nginx
            .with_certs(agent, || self.store.put(service, chain, key))
            .await?;
        let t = Track {
            source: Source::Upload,
            state: State::Active,
            last_attempt: Some(now_s()),
            ..Default::default()
        };
        self.store.save_track(service, &t);
        self.wake.notify_one();
        Ok(self.report(service, &t))
    }

    fn report(&self, service: &str, t: &Track) -> Report {
        let info = self.store.info(service);
        let next_renewal = match (&info, t.source) {
            (Some(i), Source::Acme) => Some(
                t.next_try
                    .unwrap_or(certs::renew_at(i.not_before, i.not_after)),
            ),
            _ => None,
        };
        Report {
            service: service.to_string(),
            source: t.source,
            state: t.state,
            issuer: info.as_ref().map(|i| i.issuer.clone()).unwrap_or_default(),
            sans: info.as_ref().map(|i| i.sans.clone()).unwrap_or_default(),
            not_before: info.as_ref().map(|i| i.not_before),
            not_after: info.as_ref().map(|i| i.not_after),
            last_attempt: t.last_attempt,
            next_renewal,
            error: t.error.clone(),
            rate_limited: t.rate_limited,
            failures: t.failures,
        }
    }

    /// One pass over every wanted certificate.
    async fn pass(&self, agent: &Agent, clients: &mut BTreeMap<String, acme::Client>) {
        let Some(doc) = self.doc.lock().expect("certs lock").clone() else {
            return;
        };
        let _pass = self.pass.lock().await;
        // Certificates no longer wanted go, keys included.
        let gone: Vec<String> = self
            .store
            .services()
            .into_iter()
            .filter(|s| !doc.certs.iter().any(|w| &w.service == s))
            .filter(|s| {
                self.store
                    .written(s)
                    .and_then(|t| t.elapsed().ok())
                    .is_none_or(|age| age > FRESH)
            })
            .collect();
        if !gone.is_empty() {
            let r = self
                .nginx
                .with_certs(agent, || {
                    for s in &gone {
                        self.store.forget(s);
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "nginx after removing certificates");
            }
        }
        let mut reports = Vec::new();
        for w in &doc.certs {
            let mut t: Track = self.store.track(&w.service);
            t.source = w.source;
            self.converge_one(agent, &doc, w, &mut t, clients).await;
            self.store.save_track(&w.service, &t);
            reports.push(self.report(&w.service, &t));
        }
        self.outbox.lock().expect("outbox lock").current = reports;
    }

    async fn converge_one(
        &self,
        agent: &Agent,
        doc: &CertsDoc,
        w: &Wanted,
        t: &mut Track,
        clients: &mut BTreeMap<String, acme::Client>,
    ) {
        let info = self.store.info(&w.service);
        if w.revoke {
            if t.state != State::Revoked {
                self.revoke(agent, doc, w, t, clients).await;
            }
            return;
        }
        if w.source == Source::Upload {
            (t.state, t.error) = match info {
                Some(_) => (State::Active, None),
                None => (State::None, Some("no certificate has been uploaded".into())),
            };
            return;
        }
        let now = now_s();
        let renew_asked = w.renew != t.renew_done;
        let why = match &info {
            None => Some("none held"),
            Some(i) if certs::uncovered(&i.sans, &w.domains).is_some() => {
                Some("the domains changed")
            }
            Some(i) if now >= certs::renew_at(i.not_before, i.not_after) => Some("due"),
            Some(_) if renew_asked => Some("asked"),
            Some(_) => None,
        };
        let Some(why) = why else {
            if t.state != State::Failed {
                t.state = State::Active;
            }
            return;
        };
        // A user's "renew now" skips the wait, but not a CA's rate limit.
        let waiting = t.next_try.is_some_and(|n| now < n);
        let skips_wait = renew_asked && !t.rate_limited;
        if waiting && !skips_wait {
            return;
        }
        let Some(acme) = &doc.acme else {
            t.state = State::Failed;
            t.error =
                Some("no ACME account is set: an admin sets it on the Certificates screen".into());
            t.renew_done = w.renew;
            return;
        };
        if let Some(refused) = w.domains.iter().find_map(|d| certs::acme_refuses(d)) {
            t.state = State::Failed;
            t.error = Some(refused);
            t.renew_done = w.renew;
            return;
        }
        tracing::info!(service = %w.service, domains = ?w.domains, why, "issuing a certificate");
        t.state = State::Issuing;
        t.last_attempt = Some(now);
        t.renew_done = w.renew;
        self.store.save_track(&w.service, t);
        let r = self.issue(agent, acme, w, clients).await;
        match r {
            Ok(()) => {
                t.state = State::Active;
                t.error = None;
                t.failures = 0;
                t.rate_limited = false;
                t.next_try = None;
            }
            Err(f) => {
                tracing::warn!(service = %w.service, error = %f.message, "certificate not issued");
                t.state = State::Failed;
                t.failures = t.failures.saturating_add(1);
                t.rate_limited = f.rate_limited;
                t.next_try = Some(now_s() + certs::retry_after_s(t.failures, f.rate_limited));
                t.error = Some(f.message);
            }
        }
    }

    async fn issue(
        &self,
        agent: &Agent,
        acme: &Acme,
        w: &Wanted,
        clients: &mut BTreeMap<String, acme::Client>,
    ) -> Result<(), acme::Failure> {
        let client = client(acme, &self.store, clients).await?;
        let (chain, key) = client.issue(&w.domains, &self.store.acme_root()).await?;
        self.nginx
            .with_certs(agent, || self.store.put(&w.service, &chain, &key))
            .await
            .map_err(|e| acme::Failure {
                message: format!("issued, but nginx did not take it: {e}"),
                rate_limited: false,
            })
    }

    async fn revoke(
        &self,
        agent: &Agent,
        doc: &CertsDoc,
        w: &Wanted,
        t: &mut Track,
        clients: &mut BTreeMap<String, acme::Client>,
    ) {
        let mut error = None;
        if let (Some(chain), Some(acme), Source::Acme) =
            (self.store.chain(&w.service), &doc.acme, w.source)
        {
            let r = match client(acme, &self.store, clients).await {
                Ok(c) => c.revoke(&chain).await,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                error = Some(format!(
                    "removed here, but the CA was not told: {}",
                    e.message
                ));
            }
        }
        let r = self
            .nginx
            .with_certs(agent, || {
                self.store.remove_files(&w.service);
                Ok(())
            })
            .await;
        if let Err(e) = r {
            error = Some(format!("nginx after removing the certificate: {e}"));
        }
        t.state = State::Revoked;
        t.error = error;
        t.last_attempt = Some(now_s());
        t.next_try = None;
    }
}

async fn client<'a>(
    acme: &Acme,
    store: &Store,
    clients: &'a mut BTreeMap<String, acme::Client>,
) -> Result<&'a acme::Client, acme::Failure> {
    let key = serde_json::to_string(acme).unwrap_or_default();
    if !clients.contains_key(&key) {
        let c = acme::Client::open(acme, &store.accounts_dir()).await?;
        clients.insert(key.clone(), c);
    }
    Ok(&clients[&key])
}

/// Runs a pass whenever the section changes and every agent interval
/// (renewals fall due with time), and reports the metrics each time.
pub fn spawn(agent: Arc<Agent>, m: Arc<Manager>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut clients = BTreeMap::new();
        let mut stale = crate::staleness::Staleness::default();
        let mut tick = tokio::time::interval(agent.interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
                _ = m.wake.notified() => {}
            }
            m.pass(&agent, &mut clients).await;
            let ts = now_ms();
            let mut out = Output::new(ts);
            m.emit(&mut out);
            let mut series = out.into_series();
            stale.mark(&mut series, ts);
            agent.enqueue(series);
        }
    });
}
