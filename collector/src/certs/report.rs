//! What the host tells about its certificates: reports to the server
//! (state, dates, last error), carried by heartbeats when they change and
//! every 10 minutes, and the metrics every pass.

use super::{Manager, Track};
use crate::agent::Agent;
use crate::output::Output;
use dozor_common::certs::{self, Report};
use std::time::Duration;

/// Reports go when they change, and every 10 minutes.
#[derive(Default)]
pub struct Outbox {
    pub(crate) current: Vec<Report>,
    sent: Option<(Vec<Report>, std::time::Instant)>,
}

impl Outbox {
    /// What the next heartbeat carries, if anything.
    pub fn due(&self) -> Option<Vec<Report>> {
        match &self.sent {
            Some((s, at)) if *s == self.current && at.elapsed() < Duration::from_secs(600) => None,
            _ => Some(self.current.clone()),
        }
    }

    pub fn delivered(&mut self, r: Vec<Report>) {
        self.sent = Some((r, std::time::Instant::now()));
    }
}

/// The certificate reports a heartbeat carries.
impl Agent {
    pub(crate) fn certs_due(&self) -> Option<Vec<Report>> {
        self.certs
            .get()
            .and_then(|m| m.outbox.lock().expect("outbox lock").due())
    }

    pub(crate) fn certs_delivered(&self, sent: Option<Vec<Report>>) {
        if let (Some(m), Some(c)) = (self.certs.get(), sent) {
            m.outbox.lock().expect("outbox lock").delivered(c);
        }
    }
}

impl Manager {
    /// `dozor_cert_expiry_timestamp_seconds{service,domain,source}` for
    /// every domain a held certificate covers, and the failures in a row.
    pub(crate) fn emit(&self, out: &mut Output) {
        let Some(doc) = self.doc.lock().expect("certs lock").clone() else {
            return;
        };
        for w in &doc.certs {
            let t: Track = self.store.track(&w.service);
            out.push(
                "dozor_cert_renewal_failures",
                &[("service", &w.service)],
                f64::from(t.failures),
            );
            let Some(i) = self.store.info(&w.service) else {
                continue;
            };
            for d in &w.domains {
                if i.sans.iter().any(|s| certs::covers(s, d)) {
                    out.push(
                        "dozor_cert_expiry_timestamp_seconds",
                        &[
                            ("service", &w.service),
                            ("domain", d),
                            ("source", w.source.as_str()),
                        ],
                        i.not_after as f64,
                    );
                }
            }
        }
    }
}
