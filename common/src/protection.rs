//! Traffic protection: the rules every agent runs over its access log,
//! the allowlist, and the addresses blocked fleet-wide or by hand. It
//! reaches each host as the `protection` section of its desired state;
//! the agent adds its own blocks and renders all of them into the file
//! nginx's `geo` map includes. Checked on the server when saved and again
//! on the agent before anything is written.

use crate::cidr::Cidr;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// One per-address rule: more than `limit` matching requests from one
/// address within `window_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    pub enabled: bool,
    /// Record what would have been blocked, block nothing.
    pub dry_run: bool,
    pub limit: u32,
    pub window_s: u32,
}

impl Rule {
    const fn new(limit: u32, window_s: u32) -> Self {
        Self {
            enabled: true,
            dry_run: false,
            limit,
            window_s,
        }
    }
}

impl Default for Rule {
    fn default() -> Self {
        Self::new(1, 60)
    }
}

/// Why an address was blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Too many requests.
    Rate,
    /// Too many 4xx answers (scanners).
    Errors,
    /// Requests for known-bad paths a service does not serve.
    BadPath,
    /// Bad paths on several hosts or services (the server's fleet rule).
    Fleet,
    /// An admin's block.
    Manual,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rate => "rate",
            Self::Errors => "errors",
            Self::BadPath => "bad_path",
            Self::Fleet => "fleet",
            Self::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Rate,
            Self::Errors,
            Self::BadPath,
            Self::Fleet,
            Self::Manual,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// The settings, fleet-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Requests of any kind.
    pub rate: Rule,
    /// 4xx answers.
    pub errors: Rule,
    /// Known-bad paths answered with 4xx (the service does not serve
    /// them; a service that does is not a scanner's target).
    pub bad_paths: Rule,
    /// Path prefixes, matched without regard to case.
    pub paths: Vec<String>,
    /// A first block lasts this long; each repeat within a day lasts
    /// four times longer, up to `max_ttl_s`.
    pub ttl_s: u32,
    pub max_ttl_s: u32,
    /// What a blocked client gets: 403, or 444 (nginx closes the
    /// connection without an answer).
    pub deny_status: u16,
    /// Never blocked, whatever they send.
    pub allowlist: Vec<Cidr>,
    /// The fleet rule: one address hitting bad paths on at least this
    /// many services or hosts within `fleet_window_s` is blocked on every
    /// host (0 turns it off).
    pub fleet_spread: u32,
    pub fleet_window_s: u32,
}

pub const DEFAULT_PATHS: [&str; 12] = [
    "/wp-login.php",
    "/wp-admin",
    "/xmlrpc.php",
    "/.env",
    "/.git/",
    "/.aws/",
    "/phpmyadmin",
    "/pma/",
    "/cgi-bin/",
    "/vendor/phpunit",
    "/boaform",
    "/actuator/",
];

impl Default for Settings {
    fn default() -> Self {
        Self {
            // 20 requests/s sustained for a minute from one address: far
            // above a person with a browser, below any flood.
            rate: Rule::new(1200, 60),
            errors: Rule::new(100, 60),
            bad_paths: Rule::new(3, 600),
            paths: DEFAULT_PATHS.iter().map(|p| p.to_string()).collect(),
            ttl_s: 600,
            max_ttl_s: 86_400,
            deny_status: 403,
            allowlist: vec![
                "127.0.0.1".parse().expect("a literal address"),
                "::1".parse().expect("a literal address"),
            ],
            fleet_spread: 3,
            fleet_window_s: 600,
        }
    }
}

/// An address blocked by the server (fleet rule or by hand), for every
/// host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub address: Cidr,
    pub reason: Reason,
    /// Unix ms; None never expires.
    pub expires_ms: Option<i64>,
}

/// The `protection` section of a host's document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProtectionDoc {
    pub settings: Settings,
    pub blocks: Vec<Block>,
    /// Addresses of dozor's own parts (the server, the agents), never
    /// blocked like the allowlist.
    pub own: Vec<Cidr>,
    /// Addresses an admin unblocked, with when (Unix ms): an agent lets
    /// its own block of them go once.
    pub released: Vec<(Cidr, i64)>,
}

/// The section marker for [`ProtectionDoc`].
pub struct Protection;

impl crate::desired::Section for Protection {
    const NAME: &'static str = "protection";
    type Doc = ProtectionDoc;
}

/// A block an agent made (or, in a dry run, would have made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEvent {
    pub address: Cidr,
    pub reason: Reason,
    pub service: String,
    pub hits: u32,
    pub since_ms: i64,
    pub until_ms: i64,
    pub dry_run: bool,
}

/// Bad-path hits from one address on one service in one interval, for
/// the server's fleet rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadPathHits {
    pub address: Cidr,
    pub service: String,
    pub hits: u32,
}

/// One address's requests to one service in one interval: the busiest
/// addresses (by requests and by 4xx) of each service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub address: Cidr,
    pub service: String,
    pub requests: u32,
    pub errors: u32,
    pub bad_paths: u32,
}

/// What an agent's heartbeat carries about protection since the last
/// accepted one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WafReport {
    pub blocks: Vec<BlockEvent>,
    /// Every bad-path hit (the fleet rule's input).
    pub bad_paths: Vec<BadPathHits>,
    /// The interval's busiest addresses per service.
    pub activity: Vec<Activity>,
}

impl WafReport {
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty() && self.bad_paths.is_empty() && self.activity.is_empty()
    }

    /// Puts an unsent report back in front of what came since, within a
    /// bound (the oldest go first).
    pub fn merge_front(&mut self, mut older: WafReport, max: usize) {
        older.blocks.append(&mut self.blocks);
        older.bad_paths.append(&mut self.bad_paths);
        older.activity.append(&mut self.activity);
        let n = older.activity.len();
        if n > max {
            older.activity.drain(..n - max);
        }
        let cut = |v: &mut Vec<_>| {
            if v.len() > max {
                v.drain(..v.len() - max);
            }
        };
        cut(&mut older.blocks);
        let n = older.bad_paths.len();
        if n > max {
            older.bad_paths.drain(..n - max);
        }
        *self = older;
    }
}

/// Limits a setting must keep, each naming its field.
pub fn check(s: &Settings) -> Result<(), Vec<crate::services::FieldError>> {
    let mut errors = Vec::new();
    let mut bad = |field: &'static str, message: String| {
        errors.push(crate::services::FieldError { field, message })
    };
    for (field, r) in [
        ("rate", &s.rate),
        ("errors", &s.errors),
        ("bad_paths", &s.bad_paths),
    ] {
        if r.limit == 0 || r.limit > 1_000_000 {
            bad(field, "the limit must be 1–1000000 requests".into());
        }
        if r.window_s == 0 || r.window_s > 86_400 {
            bad(field, "the window must be 1–86400 seconds".into());
        }
    }
    if s.paths.len() > 200 {
        bad("paths", "at most 200 paths".into());
    }
    for p in &s.paths {
        if !p.starts_with('/') || p.len() > 200 || !p.bytes().all(|b| b.is_ascii_graphic()) {
            bad(
                "paths",
                format!("{p:?}: a path starts with '/' and has at most 200 printable ASCII characters, no spaces"),
            );
        }
    }
    if s.ttl_s == 0 || s.ttl_s > 30 * 86_400 || s.max_ttl_s < s.ttl_s || s.max_ttl_s > 365 * 86_400
    {
        bad(
            "ttl_s",
            "a block lasts 1 s to 30 days, and at most max_ttl_s (up to a year)".into(),
        );
    }
    if !matches!(s.deny_status, 403 | 444) {
        bad("deny_status", "blocked clients get 403 or 444".into());
    }
    if s.allowlist.len() > 1000 {
        bad("allowlist", "at most 1000 entries".into());
    }
    if s.fleet_spread > 1000 || s.fleet_window_s == 0 || s.fleet_window_s > 86_400 {
        bad(
            "fleet_spread",
            "the fleet rule needs 0–1000 places within 1–86400 seconds".into(),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Whether `path` is one of the known-bad ones.
pub fn bad_path(paths: &[String], path: &str) -> bool {
    paths.iter().any(|p| {
        path.len() >= p.len() && path.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
    })
}

/// The entries of nginx's `geo $dozor_blocked` map, one address or
/// network per line. Each entry is printed from its parsed form and read
/// back before it is written, so nothing but an address reaches the file.
pub fn render_geo(blocked: &[Cidr]) -> String {
    let mut out = String::from("# Generated by dozor-collector: blocked addresses.\n");
    for c in blocked {
        let text = c.to_string();
        if text.parse::<Cidr>().ok() != Some(*c) {
            continue;
        }
        let _ = writeln!(out, "{text} 1;");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_checks_name_fields() {
        assert!(check(&Settings::default()).is_ok());
        let mut s = Settings::default();
        s.rate.limit = 0;
        s.paths.push("/ok\n deny all".into());
        s.deny_status = 200;
        let fields: Vec<&str> = check(&s)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["rate", "paths", "deny_status"]);
    }

    #[test]
    fn bad_paths_match_prefixes_without_case() {
        let p = Settings::default().paths;
        assert!(bad_path(&p, "/WP-LOGIN.php"));
        assert!(bad_path(&p, "/.git/config"));
        assert!(!bad_path(&p, "/.github"));
        assert!(!bad_path(&p, "/"));
    }

    #[test]
    fn the_geo_file_holds_addresses_only() {
        let blocked: Vec<Cidr> = ["127.0.0.5", "2001:db8::/64"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let g = render_geo(&blocked);
        assert!(g.ends_with("127.0.0.5 1;\n2001:db8::/64 1;\n"), "{g}");
    }
}
