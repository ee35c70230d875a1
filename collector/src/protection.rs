//! Protection on this host: the access log's requests go through the
//! rules (`watch`), a rule that fires blocks the address for a while
//! (`blocks`), and nginx denies what is blocked through the `geo` file
//! dozor's config includes (written by `nginx::Controller`). Blocks and
//! bad-path hits go to the server with the heartbeats, which runs the
//! fleet rule over every host's.

pub mod blocks;
pub mod watch;

use crate::output::Output;
use crate::traffic::line::Hit;
use dozor_common::cidr::Cidr;
use dozor_common::protection::{
    Activity, BadPathHits, BlockEvent, ProtectionDoc, Reason, Settings, WafReport,
};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Events kept for the server while it cannot be reached, at most.
pub const MAX_PENDING: usize = 1_000;

#[derive(Debug, Default)]
pub struct Guard {
    settings: Settings,
    watch: watch::Watch,
    blocks: blocks::Blocks,
    /// Made since the last report.
    pending: WafReport,
    /// (service, reason) → blocks made; dry runs apart.
    made: BTreeMap<(String, Reason), u64>,
    dry: BTreeMap<(String, Reason), u64>,
    /// Requests from blocked addresses that reached the log (nginx
    /// denied them).
    denied_requests: u64,
    /// Set when the blocked set may have changed.
    dirty: bool,
    /// Addresses the server asked to let go, with when.
    released: Vec<(Cidr, i64)>,
    /// The server's blocks in the last document.
    remote: Vec<Cidr>,
    /// Exempt on this host whatever the document says (the server's
    /// addresses as this host resolves them).
    local_own: Vec<Cidr>,
}

impl Guard {
    pub fn never_block(&mut self, addresses: Vec<Cidr>) {
        self.local_own = addresses;
    }

    pub fn configure(&mut self, doc: &ProtectionDoc) {
        self.settings = doc.settings.clone();
        let own: Vec<Cidr> = doc.own.iter().chain(&self.local_own).copied().collect();
        self.watch.configure(doc.settings.clone(), &own);
        self.blocks
            .configure(&doc.settings, &own, doc.blocks.clone());
        for (address, at) in &doc.released {
            if !self.released.contains(&(*address, *at)) {
                self.blocks.release(address, *at);
            }
        }
        // The document holds a day of them: what it no longer holds is
        // forgotten, so this stays as small as the document.
        self.released = doc.released.clone();
        // The server's new blocks count as this host's (they are denied
        // here), so the metric and the alert on it see fleet and manual
        // blocks too.
        for b in &doc.blocks {
            if !self.remote.contains(&b.address) {
                *self.made.entry((String::new(), b.reason)).or_default() += 1;
            }
        }
        self.remote = doc.blocks.iter().map(|b| b.address).collect();
        self.dirty = true;
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// One request from the log.
    pub fn observe(&mut self, hit: &Hit, now_ms: i64) {
        let Ok(address) = hit.client.parse::<IpAddr>() else {
            return;
        };
        if self.blocks.is_blocked(address, now_ms) {
            self.denied_requests += 1;
            return;
        }
        let mut fired = Vec::new();
        self.watch.observe(
            &watch::Request {
                address,
                service: &hit.service,
                status: hit.status,
                path: &hit.path,
            },
            (now_ms / 1000) as u64,
            &mut fired,
        );
        for v in fired {
            let key = (v.service.clone(), v.reason);
            let event = |since_ms, until_ms| BlockEvent {
                address: Cidr::host(v.address),
                reason: v.reason,
                service: v.service.clone(),
                hits: v.hits,
                since_ms,
                until_ms,
                dry_run: v.dry_run,
            };
            if v.dry_run {
                *self.dry.entry(key).or_default() += 1;
                self.push(event(now_ms, now_ms));
            } else if let Some(b) = self.blocks.add(&v, &self.settings, now_ms) {
                *self.made.entry(key).or_default() += 1;
                tracing::info!(address = %v.address, reason = v.reason.as_str(), service = %v.service, until_ms = b.until_ms, "address blocked");
                self.push(event(b.since_ms, b.until_ms));
                self.dirty = true;
            }
        }
    }

    fn push(&mut self, e: BlockEvent) {
        self.pending.blocks.push(e);
        if self.pending.blocks.len() > MAX_PENDING {
            self.pending.blocks.remove(0);
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether the blocked set may have changed since the last call
    /// (new blocks, a new configuration, expiries).
    pub fn take_dirty(&mut self, now_ms: i64) -> bool {
        let expired = self.blocks.expire(now_ms);
        std::mem::take(&mut self.dirty) || expired
    }

    pub fn denied(&self, now_ms: i64) -> Vec<Cidr> {
        self.blocks.denied(now_ms)
    }

    pub fn deny_status(&self) -> u16 {
        self.settings.deny_status
    }

    /// The report for the next heartbeat: blocks made and this
    /// interval's bad-path hits.
    pub fn take_report(&mut self) -> WafReport {
        let mut r = std::mem::take(&mut self.pending);
        r.bad_paths = self
            .watch
            .take_summary()
            .into_iter()
            .map(|(address, service, hits)| BadPathHits {
                address: Cidr::host(address),
                service,
                hits,
            })
            .collect();
        r.activity = self
            .watch
            .take_activity()
            .into_iter()
            .map(
                |(address, service, [requests, errors, bad_paths])| Activity {
                    address: Cidr::host(address),
                    service,
                    requests,
                    errors,
                    bad_paths,
                },
            )
            .collect();
        r
    }

    pub fn emit(&self, out: &mut Output, now_ms: i64) {
        for ((service, reason), n) in &self.made {
            out.push(
                "dozor_waf_blocks_total",
                &[("service", service), ("reason", reason.as_str())],
                *n as f64,
            );
        }
        for ((service, reason), n) in &self.dry {
            out.push(
                "dozor_waf_dry_run_blocks_total",
                &[("service", service), ("reason", reason.as_str())],
                *n as f64,
            );
        }
        out.push(
            "dozor_waf_blocked_addresses",
            &[],
            self.blocks.denied(now_ms).len() as f64,
        );
        out.push(
            "dozor_waf_denied_requests_total",
            &[],
            self.denied_requests as f64,
        );
        out.push(
            "dozor_waf_untracked_requests_total",
            &[],
            self.watch.untracked() as f64,
        );
    }
}

/// Reports waiting for the next accepted heartbeat.
#[derive(Debug, Default)]
pub struct Outbox(std::sync::Mutex<WafReport>);

impl Outbox {
    pub fn push(&self, mut r: WafReport) {
        let mut q = self.0.lock().expect("waf outbox lock");
        let older = std::mem::take(&mut *q);
        r.merge_front(older, MAX_PENDING);
        *q = r;
    }

    pub fn take(&self) -> WafReport {
        std::mem::take(&mut *self.0.lock().expect("waf outbox lock"))
    }

    /// A heartbeat that failed: its report goes back in front.
    pub fn restore(&self, r: WafReport) {
        if !r.is_empty() {
            let mut q = self.0.lock().expect("waf outbox lock");
            q.merge_front(r, MAX_PENDING);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dozor_common::protection::Block;

    fn hit(client: &str) -> Hit<'_> {
        Hit {
            service: "app".into(),
            client: client.into(),
            path: "/".into(),
            status: 200,
            bytes: 1,
            request_time: 0.001,
            upstream_time: "".into(),
            user_agent: "curl/8".into(),
        }
    }

    #[test]
    fn blocks_from_rules_and_from_the_server_are_counted_and_released() {
        let mut g = Guard::default();
        let mut doc = ProtectionDoc::default();
        doc.settings.rate.limit = 2;
        g.configure(&doc);
        for _ in 0..3 {
            g.observe(&hit("127.0.0.5"), 1_000);
        }
        assert_eq!(g.denied(1_000), ["127.0.0.5".parse::<Cidr>().unwrap()]);
        g.observe(&hit("127.0.0.5"), 1_001);
        assert_eq!(g.denied_requests, 1, "a blocked address's request");
        let r = g.take_report();
        assert_eq!(r.blocks.len(), 1);
        assert_eq!(r.activity[0].requests, 3, "counted until blocked");

        // The server's fleet block counts once; an admin's unblock of the
        // local block lets it go once, not again on the next document.
        doc.blocks.push(Block {
            address: "192.0.2.7".parse().unwrap(),
            reason: Reason::Fleet,
            expires_ms: None,
        });
        doc.released.push(("127.0.0.5".parse().unwrap(), 1_500));
        g.configure(&doc);
        g.configure(&doc);
        assert_eq!(g.made[&(String::new(), Reason::Fleet)], 1);
        assert_eq!(g.denied(2_000), ["192.0.2.7".parse::<Cidr>().unwrap()]);
        for _ in 0..3 {
            g.observe(&hit("127.0.0.5"), 700_000);
        }
        g.configure(&doc);
        assert!(
            g.denied(700_000).contains(&"127.0.0.5".parse().unwrap()),
            "a new block after the release stays"
        );
    }
}
