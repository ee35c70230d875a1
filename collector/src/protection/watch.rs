//! Per-address counting for the protection rules: one fixed window per
//! rule and address, reset when it runs out and when it fires, so an
//! address is reported once per window it exceeds. Memory is bounded by
//! [`MAX_TRACKED`] addresses whatever the traffic; past it, windows that
//! ran out are swept, and while still full new addresses go uncounted
//! (and are counted as such).

use dozor_common::cidr::Cidr;
use dozor_common::protection::{bad_path, Reason, Rule, Settings};
use std::collections::HashMap;
use std::net::IpAddr;

pub const MAX_TRACKED: usize = 100_000;
/// Bad-path hits kept per interval for the fleet summary.
const MAX_SUMMARY: usize = 1_000;
/// (address, service) pairs counted per interval for the busiest-address
/// summary; past it new pairs wait for the next interval.
const MAX_ACTIVITY: usize = 10_000;
/// Addresses reported per service and interval, by requests and by 4xx.
pub const TOP: usize = 10;

/// (address, service) and its [requests, 4xx, bad paths].
type Counted = ((IpAddr, String), [u32; 3]);

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    start_s: u64,
    n: u32,
}

impl Window {
    /// Counts one; true when this one goes over the rule's limit.
    fn hit(&mut self, rule: &Rule, now_s: u64) -> bool {
        if now_s >= self.start_s + u64::from(rule.window_s) || self.n == 0 {
            *self = Window {
                start_s: now_s,
                n: 0,
            };
        }
        self.n += 1;
        if self.n > rule.limit {
            self.n = 0;
            return true;
        }
        false
    }

    fn live(&self, rule: &Rule, now_s: u64) -> bool {
        self.n > 0 && now_s < self.start_s + u64::from(rule.window_s)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    rate: Window,
    errors: Window,
    bad: Window,
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub address: IpAddr,
    pub reason: Reason,
    pub service: String,
    /// What the window held when it fired (the limit plus one).
    pub hits: u32,
    pub dry_run: bool,
}

/// What one request looks like to the rules.
pub struct Request<'a> {
    pub address: IpAddr,
    pub service: &'a str,
    pub status: u16,
    pub path: &'a str,
}

#[derive(Debug, Default)]
pub struct Watch {
    settings: Settings,
    /// The allowlist and dozor's own addresses.
    exempt: Vec<Cidr>,
    addrs: HashMap<IpAddr, Counts>,
    untracked: u64,
    /// (address, service) → bad-path hits since the last summary.
    summary: HashMap<(IpAddr, String), u32>,
    /// (address, service) → [requests, 4xx, bad paths] this interval.
    activity: HashMap<(IpAddr, String), [u32; 3]>,
}

impl Watch {
    pub fn configure(&mut self, settings: Settings, own: &[Cidr]) {
        self.exempt = settings.allowlist.iter().chain(own).copied().collect();
        self.settings = settings;
    }

    pub fn exempt(&self, ip: IpAddr) -> bool {
        self.exempt.iter().any(|c| c.contains(ip))
    }

    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    pub fn tracked(&self) -> usize {
        self.addrs.len()
    }

    /// Counts `r`; the rules it made fire.
    pub fn observe(&mut self, r: &Request, now_s: u64, out: &mut Vec<Violation>) {
        if self.exempt(r.address) {
            return;
        }
        let is_error = (400..500).contains(&r.status);
        let is_bad =
            is_error && self.settings.bad_paths.enabled && bad_path(&self.settings.paths, r.path);
        if is_bad
            && (self.summary.len() < MAX_SUMMARY
                || self
                    .summary
                    .contains_key(&(r.address, r.service.to_string())))
        {
            *self
                .summary
                .entry((r.address, r.service.to_string()))
                .or_default() += 1;
        }
        let key = (r.address, r.service.to_string());
        if self.activity.len() < MAX_ACTIVITY || self.activity.contains_key(&key) {
            let a = self.activity.entry(key).or_default();
            a[0] += 1;
            a[1] += u32::from(is_error);
            a[2] += u32::from(is_bad);
        }
        if !self.addrs.contains_key(&r.address) && self.addrs.len() >= MAX_TRACKED {
            self.sweep(now_s);
            if self.addrs.len() >= MAX_TRACKED {
                self.untracked += 1;
                return;
            }
        }
        let s = &self.settings;
        let c = self.addrs.entry(r.address).or_default();
        let mut fire = |rule: &Rule, w: &mut Window, reason: Reason| {
            if rule.enabled && w.hit(rule, now_s) {
                out.push(Violation {
                    address: r.address,
                    reason,
                    service: r.service.to_string(),
                    hits: rule.limit.saturating_add(1),
                    dry_run: rule.dry_run,
                });
            }
        };
        fire(&s.rate, &mut c.rate, Reason::Rate);
        if is_error {
            fire(&s.errors, &mut c.errors, Reason::Errors);
        }
        if is_bad {
            fire(&s.bad_paths, &mut c.bad, Reason::BadPath);
        }
    }

    /// Forgets addresses whose every window ran out.
    pub fn sweep(&mut self, now_s: u64) {
        let s = &self.settings;
        self.addrs.retain(|_, c| {
            c.rate.live(&s.rate, now_s)
                || c.errors.live(&s.errors, now_s)
                || c.bad.live(&s.bad_paths, now_s)
        });
    }

    /// The interval's busiest addresses: per service the [`TOP`] by
    /// requests and the [`TOP`] by 4xx, as (address, service, [requests,
    /// 4xx, bad paths]); the counts start again.
    pub fn take_activity(&mut self) -> Vec<(IpAddr, String, [u32; 3])> {
        let all: Vec<Counted> = self.activity.drain().collect();
        let mut by_service: HashMap<&str, Vec<&Counted>> = HashMap::new();
        for e in &all {
            by_service.entry(e.0 .1.as_str()).or_default().push(e);
        }
        let mut out = Vec::new();
        for (_, mut v) in by_service {
            let mut keep: Vec<&Counted> = Vec::new();
            for column in [0, 1] {
                v.sort_by(|a, b| b.1[column].cmp(&a.1[column]).then(a.0.cmp(&b.0)));
                keep.extend(v.iter().filter(|e| e.1[column] > 0).take(TOP));
            }
            keep.sort_by(|a, b| a.0.cmp(&b.0));
            keep.dedup_by(|a, b| a.0 == b.0);
            out.extend(keep.into_iter().map(|((a, s), c)| (*a, s.clone(), *c)));
        }
        out.sort_by(|a, b| b.2[0].cmp(&a.2[0]).then(a.0.cmp(&b.0)));
        out
    }

    /// Bad-path hits since the last call, by address and service.
    pub fn take_summary(&mut self) -> Vec<(IpAddr, String, u32)> {
        let mut v: Vec<_> = self.summary.drain().map(|((a, s), n)| (a, s, n)).collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(addr: &str, status: u16, path: &str) -> Request<'static> {
        Request {
            address: addr.parse().unwrap(),
            service: "app",
            status,
            path: Box::leak(path.to_string().into_boxed_str()),
        }
    }

    fn watch() -> Watch {
        let mut w = Watch::default();
        let mut s = Settings::default();
        s.rate.limit = 10;
        s.rate.window_s = 5;
        w.configure(s, &["10.0.0.0/8".parse().unwrap()]);
        w
    }

    #[test]
    fn rules_fire_once_per_window_and_never_for_the_exempt() {
        let mut w = watch();
        let mut out = Vec::new();
        for _ in 0..25 {
            w.observe(&req("127.0.0.5", 200, "/"), 100, &mut out);
            w.observe(&req("127.0.0.1", 200, "/"), 100, &mut out);
            w.observe(&req("10.1.2.3", 200, "/"), 100, &mut out);
        }
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out
            .iter()
            .all(|v| v.reason == Reason::Rate && v.address.to_string() == "127.0.0.5"));
        // The window runs out: counting starts again.
        out.clear();
        for _ in 0..10 {
            w.observe(&req("127.0.0.5", 200, "/"), 106, &mut out);
        }
        assert!(out.is_empty());
    }

    #[test]
    fn bad_paths_count_only_when_refused_and_feed_the_summary() {
        let mut w = watch();
        let mut out = Vec::new();
        for _ in 0..5 {
            w.observe(&req("127.0.0.7", 200, "/wp-login.php"), 1, &mut out);
        }
        assert!(
            out.is_empty(),
            "a service that serves the path is no target"
        );
        for _ in 0..4 {
            w.observe(&req("127.0.0.7", 404, "/.env"), 1, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].reason, Reason::BadPath);
        let s = w.take_summary();
        assert_eq!(s, [("127.0.0.7".parse().unwrap(), "app".to_string(), 4)]);
        assert!(w.take_summary().is_empty());
        let a = w.take_activity();
        assert_eq!(
            a,
            [("127.0.0.7".parse().unwrap(), "app".to_string(), [9, 4, 4])]
        );
        assert!(w.take_activity().is_empty(), "counts start again");
    }

    #[test]
    fn the_activity_summary_keeps_the_busiest_per_service() {
        let mut w = watch();
        let mut out = Vec::new();
        for i in 0..30u8 {
            for _ in 0..=i {
                w.observe(&req(&format!("127.1.0.{i}"), 200, "/"), 1, &mut out);
            }
        }
        // One quiet address with 4xx only: among the top by 4xx.
        w.observe(&req("127.2.0.1", 404, "/x"), 1, &mut out);
        let a = w.take_activity();
        assert_eq!(a.len(), TOP + 1, "{a:?}");
        assert_eq!(a[0].0.to_string(), "127.1.0.29");
        assert!(a
            .iter()
            .any(|e| e.0.to_string() == "127.2.0.1" && e.2 == [1, 1, 0]));
    }

    #[test]
    fn memory_is_bounded_by_the_number_of_addresses() {
        let mut w = watch();
        let mut out = Vec::new();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + i));
            w.observe(
                &Request {
                    address: a,
                    service: "app",
                    status: 200,
                    path: "/",
                },
                1,
                &mut out,
            );
        }
        assert_eq!(w.tracked(), MAX_TRACKED);
        assert_eq!(w.untracked(), 10);
        // Once the windows run out the addresses are swept.
        w.sweep(1_000);
        assert_eq!(w.tracked(), 0);
    }
}
