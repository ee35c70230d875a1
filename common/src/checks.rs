//! Checks: probes a user defines for any URL or address, run by the agents
//! they pick (one, several, or all: the same target seen from several
//! places). Each reaches its agents as the `checks` section of their
//! desired state and is reported under blackbox_exporter's names with
//! `check` and `instance` labels.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// GET the URL; up on 2xx (and the body match, if any).
    #[default]
    Http,
    /// Connect to `host:port`.
    Tcp,
    /// A TLS handshake with `host:port`: chain and name verified.
    Tls,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Check {
    /// A slug, unique.
    pub name: String,
    pub kind: Kind,
    /// `http://host[:port]/path` for HTTP, `host:port` otherwise.
    pub target: String,
    /// The agents that run it; empty for all of them.
    pub agents: Vec<String>,
    pub interval_s: u32,
    pub timeout_s: u32,
    /// HTTP: a substring the body must hold.
    pub body_match: Option<String>,
}

impl Default for Check {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: Kind::Http,
            target: String::new(),
            agents: Vec::new(),
            interval_s: 30,
            timeout_s: 10,
            body_match: None,
        }
    }
}

/// The `checks` section: the checks this host runs.
pub struct Checks;

impl crate::desired::Section for Checks {
    const NAME: &'static str = "checks";
    type Doc = Vec<Check>;
}

/// (host, port) of a target, for the address policy and for TCP/TLS.
pub fn host_port(c: &Check) -> Result<(String, u16), String> {
    match c.kind {
        Kind::Http => {
            let rest = c
                .target
                .strip_prefix("http://")
                .ok_or_else(|| "an HTTP check's target starts with http:// (HTTPS checks come with the TLS kind)".to_string())?;
            let authority = rest.split('/').next().unwrap_or("");
            split(authority, 80)
        }
        Kind::Tcp | Kind::Tls => split(&c.target, 0),
    }
}

fn split(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let bad = || format!("{authority:?} is not host:port");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, rest) = v6.split_once(']').ok_or_else(bad)?;
        (h.to_string(), rest.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
        None if default_port != 0 => default_port,
        None => return Err(bad()),
    };
    if host.is_empty()
        || host.len() > 253
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
    {
        return Err(bad());
    }
    Ok((host, port))
}

/// Whether a check's fields are usable, each problem naming its field.
pub fn check(c: &Check) -> Result<(), Vec<crate::services::FieldError>> {
    let mut errors = Vec::new();
    let mut bad = |field: &'static str, message: String| {
        errors.push(crate::services::FieldError { field, message })
    };
    let slug = !c.name.is_empty()
        && c.name.len() <= 63
        && c.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !slug {
        bad("name", "a name is 1–63 of a-z, 0-9 and '-'".into());
    }
    if c.target.len() > 2048 || c.target.bytes().any(|b| !b.is_ascii_graphic()) {
        bad(
            "target",
            "the target is printable ASCII without spaces, at most 2048 bytes".into(),
        );
    } else if let Err(e) = host_port(c) {
        bad("target", e);
    }
    if !(5..=3600).contains(&c.interval_s) {
        bad("interval_s", "the interval is 5–3600 seconds".into());
    }
    if c.timeout_s == 0 || c.timeout_s > 60 || c.timeout_s > c.interval_s {
        bad(
            "timeout_s",
            "the timeout is 1–60 seconds and at most the interval".into(),
        );
    }
    if c.body_match.as_ref().is_some_and(|m| m.len() > 1024) {
        bad("body_match", "at most 1024 bytes".into());
    }
    if c.agents.len() > 1000 {
        bad("agents", "at most 1000 agents".into());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Whether `ip` is inside a network a probe from a host could reach that
/// the outside cannot: loopback, private, link-local, unique local, CGNAT.
pub fn private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| private(v4.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_fields() {
        let c = |kind, target: &str| Check {
            name: "x".into(),
            kind,
            target: target.into(),
            ..Default::default()
        };
        assert_eq!(
            host_port(&c(Kind::Http, "http://example.com/a")).unwrap(),
            ("example.com".into(), 80)
        );
        assert_eq!(
            host_port(&c(Kind::Http, "http://[::1]:8080/")).unwrap(),
            ("::1".into(), 8080)
        );
        assert_eq!(
            host_port(&c(Kind::Tls, "example.com:443")).unwrap(),
            ("example.com".into(), 443)
        );
        assert!(host_port(&c(Kind::Tcp, "example.com")).is_err());
        assert!(host_port(&c(Kind::Http, "https://example.com/")).is_err());
        assert!(host_port(&c(Kind::Tcp, "a b:1")).is_err());
        assert!(check(&c(Kind::Http, "http://example.com/")).is_ok());
        let mut bad = c(Kind::Http, "http://example.com/\n");
        bad.name = "Bad Name".into();
        bad.interval_s = 1;
        let fields: Vec<&str> = check(&bad)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["name", "target", "interval_s", "timeout_s"]);
        for p in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(private(p.parse().unwrap()), "{p}");
        }
        for p in ["8.8.8.8", "2001:db8::1"] {
            assert!(!private(p.parse().unwrap()), "{p}");
        }
    }
}
