//! Certificates: what a host must hold for its services (the
//! `certificates` section of its desired state), what its agent reports
//! back about each, and the rules both sides share: which domains ACME
//! http-01 can prove, when a certificate is due for renewal and how long a
//! failure waits. Keys never appear here: they are made on the host and
//! stay there (an uploaded key travels once, in a task, to that host only).

pub mod inspect;

use serde::{Deserialize, Serialize};

/// Let's Encrypt's directories, offered as presets.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// Where http-01 challenge answers are served from, on every dozor domain.
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// The fleet's ACME account settings (the account key itself is made and
/// kept by each agent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Acme {
    /// The CA's directory URL.
    pub directory: String,
    /// The account's contact; optional, as Let's Encrypt allows.
    pub email: String,
    /// A PEM root the agents also trust when talking to the CA (a private
    /// CA, or pebble in tests).
    pub extra_ca_pem: Option<String>,
}

/// Where a certificate comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    #[default]
    Acme,
    Upload,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acme => "acme",
            Self::Upload => "upload",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "acme" => Some(Self::Acme),
            "upload" => Some(Self::Upload),
            _ => None,
        }
    }
}

/// One service's certificate, as its host must hold it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Wanted {
    pub service: String,
    /// The names it must cover: the service's domains.
    pub domains: Vec<String>,
    pub source: Source,
    /// Grows by one for every "renew now"; the agent renews when it
    /// differs from the one it last acted on.
    pub renew: u64,
    /// Revoke it at the CA (ACME) and stop serving it.
    pub revoke: bool,
}

/// The `certificates` section of a host's document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CertsDoc {
    /// None until an admin sets the fleet's ACME account.
    pub acme: Option<Acme>,
    pub certs: Vec<Wanted>,
}

/// The section marker for [`CertsDoc`].
pub struct Certificates;

impl crate::desired::Section for Certificates {
    const NAME: &'static str = "certificates";
    type Doc = CertsDoc;
}

/// Where a certificate stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Nothing on disk yet.
    #[default]
    None,
    Issuing,
    /// On disk and served (see `not_after`).
    Active,
    /// The last attempt failed (see `error`); a previous certificate, if
    /// any, is still served.
    Failed,
    Revoked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Issuing => "issuing",
            Self::Active => "active",
            Self::Failed => "failed",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Self::None,
            "issuing" => Self::Issuing,
            "active" => Self::Active,
            "failed" => Self::Failed,
            "revoked" => Self::Revoked,
            _ => return None,
        })
    }
}

/// What an agent says about one certificate. Times are Unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub service: String,
    pub source: Source,
    pub state: State,
    /// Of the certificate on disk, if any.
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub last_attempt: Option<i64>,
    pub next_renewal: Option<i64>,
    pub error: Option<String>,
    /// The CA said "too many": the next attempt waits for its window.
    pub rate_limited: bool,
    /// Failed attempts in a row.
    pub failures: u32,
}

/// An uploaded certificate, sent once to its service's host: the server
/// does not keep the key (the task's payload is scrubbed once it ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Install {
    pub service: String,
    pub domains: Vec<String>,
    pub chain_pem: String,
    pub key_pem: String,
}

/// The task kind that installs an upload.
pub struct InstallCertificate;

impl crate::tasks::TaskKind for InstallCertificate {
    const NAME: &'static str = "certificate.install";
    type Request = Install;
    type Output = Report;
}

/// Why http-01 cannot prove a domain, if it cannot.
pub fn acme_refuses(domain: &str) -> Option<String> {
    if domain.starts_with("*.") {
        return Some(format!(
            "{domain}: a wildcard needs a DNS challenge; upload a certificate for it instead"
        ));
    }
    if domain.parse::<std::net::IpAddr>().is_ok() {
        return Some(format!(
            "{domain}: ACME http-01 issues for names, not addresses"
        ));
    }
    None
}

/// Renewal is due once a third of the lifetime is left.
pub fn renew_at(not_before: i64, not_after: i64) -> i64 {
    let life = (not_after - not_before).max(0);
    not_after - life / 3
}

/// How long to wait after `failures` failed attempts in a row: one minute,
/// doubling, at most six hours; a CA's rate limit waits at least an hour
/// (Let's Encrypt's windows are hours long, so a loop only burns more).
pub fn retry_after_s(failures: u32, rate_limited: bool) -> i64 {
    let base = 60i64 << failures.saturating_sub(1).min(9);
    let wait = base.min(6 * 3600);
    if rate_limited {
        wait.max(3600)
    } else {
        wait
    }
}

/// Does `san` (a certificate name) cover `domain` (a service's)? A
/// wildcard covers exactly one more label, as TLS clients read it.
pub fn covers(san: &str, domain: &str) -> bool {
    let san = san.to_ascii_lowercase();
    let domain = domain.to_ascii_lowercase();
    if san == domain {
        return true;
    }
    match (san.strip_prefix("*."), domain.split_once('.')) {
        (Some(base), Some((label, rest))) => !label.is_empty() && label != "*" && rest == base,
        _ => false,
    }
}

/// The first of `domains` none of `sans` covers.
pub fn uncovered<'a>(sans: &[String], domains: &'a [String]) -> Option<&'a str> {
    domains
        .iter()
        .find(|d| !sans.iter().any(|s| covers(s, d)))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(covers("*.example.com", "a.example.com"));
        assert!(covers("A.Example.com", "a.example.COM"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(covers("*.example.com", "*.example.com"));
        assert!(!covers("a.example.com", "*.example.com"));
        let sans = vec!["*.example.com".to_string(), "example.com".into()];
        let d = vec![
            "example.com".to_string(),
            "x.example.com".into(),
            "x.y.example.com".into(),
        ];
        assert_eq!(uncovered(&sans, &d), Some("x.y.example.com"));
    }

    #[test]
    fn renewal_at_a_third_left_and_backoff_grows_to_a_cap() {
        // 90 days from day 0: due at day 60.
        assert_eq!(renew_at(0, 90 * 86400), 60 * 86400);
        assert_eq!(retry_after_s(1, false), 60);
        assert_eq!(retry_after_s(2, false), 120);
        assert_eq!(retry_after_s(5, false), 960);
        assert_eq!(retry_after_s(40, false), 6 * 3600);
        assert_eq!(retry_after_s(1, true), 3600);
    }

    #[test]
    fn http01_refuses_wildcards_and_addresses() {
        assert!(acme_refuses("*.example.com")
            .unwrap()
            .contains("DNS challenge"));
        assert!(acme_refuses("10.0.0.1").is_some());
        assert!(acme_refuses("shop.example.com").is_none());
    }
}

#[cfg(test)]
mod hostile {
    use super::inspect;

    #[test]
    fn oversized_malformed_and_overlong_uploads_are_refused_with_why() {
        let huge = "A".repeat(inspect::MAX_PEM_BYTES + 1);
        assert!(inspect::chain(&huge).unwrap_err().contains("at most"));
        assert!(inspect::key(&huge).unwrap_err().contains("at most"));
        let bad = "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
        assert!(inspect::chain(bad).is_err());
        // Valid PEM framing around bytes that are not a certificate.
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(inspect::info(junk).unwrap_err().contains("cannot be read"));
        let many = junk.repeat(9);
        assert!(inspect::chain(&many).unwrap_err().contains("more than 8"));
        assert!(inspect::check_upload("", "", &[], 0).is_err());
    }
}
