//! The agent's blocks: its own (rules that fired here), with a time to
//! live that grows for repeat offenders, and the server's (fleet and
//! manual blocks from the desired state). What nginx denies is their
//! union, less anything exempt, checked again here before it is written.

use super::watch::Violation;
use dozor_common::cidr::Cidr;
use dozor_common::protection::{Block, Reason, Settings};
use std::collections::HashMap;
use std::net::IpAddr;

/// Offenders remembered for escalation, at most.
const MAX_OFFENDERS: usize = 100_000;
/// A repeat within this long of the last block escalates.
const REPEAT_WINDOW_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq)]
pub struct LocalBlock {
    pub reason: Reason,
    pub service: String,
    pub since_ms: i64,
    pub until_ms: i64,
    pub hits: u32,
}

#[derive(Debug, Default)]
pub struct Blocks {
    local: HashMap<IpAddr, LocalBlock>,
    /// address → (blocks so far, when the last began).
    offenders: HashMap<IpAddr, (u32, i64)>,
    remote: Vec<Block>,
    exempt: Vec<Cidr>,
}

impl Blocks {
    pub fn configure(&mut self, settings: &Settings, own: &[Cidr], remote: Vec<Block>) {
        self.exempt = settings.allowlist.iter().chain(own).copied().collect();
        self.remote = remote;
        // An address allowlisted since it was blocked is free at once.
        let exempt = &self.exempt;
        self.local
            .retain(|ip, _| !exempt.iter().any(|c| c.contains(*ip)));
    }

    pub fn is_blocked(&self, ip: IpAddr, now_ms: i64) -> bool {
        self.local.get(&ip).is_some_and(|b| b.until_ms > now_ms)
            || self
                .remote
                .iter()
                .any(|b| b.address.contains(ip) && b.expires_ms.is_none_or(|e| e > now_ms))
    }

    /// Blocks the address of `v` (not a dry run, not exempt): Some with
    /// the block when it is new.
    pub fn add(&mut self, v: &Violation, settings: &Settings, now_ms: i64) -> Option<LocalBlock> {
        if v.dry_run || self.exempt.iter().any(|c| c.contains(v.address)) {
            return None;
        }
        if self.is_blocked(v.address, now_ms) {
            return None;
        }
        if self.offenders.len() >= MAX_OFFENDERS {
            self.offenders
                .retain(|_, (_, last)| now_ms - *last < REPEAT_WINDOW_MS);
        }
        let repeat = match self.offenders.get(&v.address) {
            Some((n, last)) if now_ms - last < REPEAT_WINDOW_MS => *n,
            _ => 0,
        };
        if self.offenders.len() < MAX_OFFENDERS || self.offenders.contains_key(&v.address) {
            self.offenders.insert(v.address, (repeat + 1, now_ms));
        }
        let ttl_ms = (u64::from(settings.ttl_s) * 1000)
            .saturating_mul(4u64.saturating_pow(repeat))
            .min(u64::from(settings.max_ttl_s) * 1000) as i64;
        let b = LocalBlock {
            reason: v.reason,
            service: v.service.clone(),
            since_ms: now_ms,
            until_ms: now_ms + ttl_ms,
            hits: v.hits,
        };
        self.local.insert(v.address, b.clone());
        Some(b)
    }

    /// Lets a local block go (an admin's unblock at `at_ms`); a block
    /// made after the unblock is a new offence and stays.
    pub fn release(&mut self, address: &Cidr, at_ms: i64) {
        self.local
            .retain(|ip, b| !address.contains(*ip) || b.since_ms > at_ms);
    }

    /// Drops expired local blocks; true when any went.
    pub fn expire(&mut self, now_ms: i64) -> bool {
        let before = self.local.len();
        self.local.retain(|_, b| b.until_ms > now_ms);
        before != self.local.len()
    }

    pub fn local(&self) -> &HashMap<IpAddr, LocalBlock> {
        &self.local
    }

    /// What nginx should deny now, sorted: the file's content depends
    /// only on the set.
    pub fn denied(&self, now_ms: i64) -> Vec<Cidr> {
        let mut v: Vec<Cidr> = self
            .local
            .iter()
            .filter(|(_, b)| b.until_ms > now_ms)
            .map(|(ip, _)| Cidr::host(*ip))
            .chain(
                self.remote
                    .iter()
                    .filter(|b| b.expires_ms.is_none_or(|e| e > now_ms))
                    .map(|b| b.address),
            )
            .filter(|c| !self.exempt.iter().any(|e| overlaps(e, c)))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Whether denying `c` would deny any address of the exempt network `e`.
fn overlaps(e: &Cidr, c: &Cidr) -> bool {
    e.contains(c.addr()) || c.contains(e.addr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(addr: &str) -> Violation {
        Violation {
            address: addr.parse().unwrap(),
            reason: Reason::Rate,
            service: "app".into(),
            hits: 11,
            dry_run: false,
        }
    }

    #[test]
    fn blocks_expire_and_repeat_offenders_stay_out_longer() {
        let s = Settings::default();
        let mut b = Blocks::default();
        b.configure(&s, &[], Vec::new());
        let first = b.add(&v("127.0.0.5"), &s, 0).unwrap();
        assert_eq!(first.until_ms, 600_000);
        assert!(b.add(&v("127.0.0.5"), &s, 1).is_none(), "already blocked");
        assert_eq!(b.denied(1), ["127.0.0.5".parse::<Cidr>().unwrap()]);
        assert!(b.expire(600_001));
        assert!(b.denied(600_001).is_empty());
        let second = b.add(&v("127.0.0.5"), &s, 700_000).unwrap();
        assert_eq!(second.until_ms - 700_000, 2_400_000, "four times longer");
    }

    #[test]
    fn the_exempt_are_never_denied_whatever_the_source() {
        let s = Settings::default();
        let mut b = Blocks::default();
        let remote = vec![
            Block {
                address: "127.0.0.0/8".parse().unwrap(),
                reason: Reason::Manual,
                expires_ms: None,
            },
            Block {
                address: "192.0.2.9".parse().unwrap(),
                reason: Reason::Fleet,
                expires_ms: Some(10),
            },
        ];
        b.configure(&s, &["198.51.100.1".parse().unwrap()], remote);
        assert!(b.add(&v("127.0.0.1"), &s, 0).is_none());
        assert!(b.add(&v("198.51.100.1"), &s, 0).is_none());
        let mut dry = v("127.0.0.9");
        dry.dry_run = true;
        assert!(b.add(&dry, &s, 0).is_none());
        assert_eq!(
            b.denied(0),
            ["192.0.2.9".parse::<Cidr>().unwrap()],
            "a network holding 127.0.0.1 is not denied"
        );
        assert!(b.denied(11).is_empty());
        assert!(b.is_blocked("192.0.2.9".parse().unwrap(), 5));
    }
}
