//! Services: "these domains, on this host, are served by these containers
//! (or addresses)". The model both sides share, its validation (run on the
//! server when a service is saved and again on the agent before anything
//! is rendered) and the nginx config it becomes. A service reaches its host
//! as the `services` section of the host's desired state, with the error
//! pages it uses.

pub mod error_pages;
pub mod members;
pub mod render;
pub mod tls;
pub mod validate;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use validate::FieldError;

/// The label that puts a container behind a service, and the one that
/// names its port when the service does not.
pub const SERVICE_LABEL: &str = "dozor.service";
pub const PORT_LABEL: &str = "dozor.port";

/// How nginx spreads requests over the members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    #[default]
    RoundRobin,
    LeastConn,
    IpHash,
}

impl Balance {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::LeastConn => "least_conn",
            Self::IpHash => "ip_hash",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "round_robin" => Some(Self::RoundRobin),
            "least_conn" => Some(Self::LeastConn),
            "ip_hash" => Some(Self::IpHash),
            _ => None,
        }
    }
}

/// One service as it is stored, sent and rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// A slug, unique across the fleet: `[a-z0-9-]`, 1–63 characters.
    pub name: String,
    /// The agent that serves it.
    pub host: String,
    /// nginx `server_name`s; `*.example.com` wildcards allowed.
    pub domains: Vec<String>,
    /// The path prefix it answers under.
    pub path: String,
    /// The containers' port, when their `dozor.port` label does not say.
    pub port: Option<u16>,
    /// `host:port` backends outside Docker; when set, containers are not
    /// looked at.
    pub static_upstreams: Vec<String>,
    pub lb: Balance,
    pub websocket: bool,
    /// nginx size syntax: `10m`, `512k`, `0` for no limit.
    pub max_body: String,
    pub connect_timeout_s: u32,
    pub read_timeout_s: u32,
    pub send_timeout_s: u32,
    /// Passive health: failures before a member is taken out for
    /// `fail_timeout_s` (0 turns it off).
    pub max_fails: u32,
    pub fail_timeout_s: u32,
    /// Extra response headers (name, value).
    pub headers: Vec<(String, String)>,
    pub enabled: bool,
    /// Serve dozor's error pages for these statuses (the global set, with
    /// this service's overrides).
    pub error_pages: bool,
    /// Once a certificate covers a domain, HTTP requests for it are
    /// redirected to HTTPS (the ACME challenge path stays on HTTP).
    pub https_redirect: bool,
    /// Send `Strict-Transport-Security` over HTTPS: opt-in, since browsers
    /// then refuse plain HTTP to the domain for a year.
    pub hsts: bool,
}

impl Default for Service {
    fn default() -> Self {
        Self {
            name: String::new(),
            host: String::new(),
            domains: Vec::new(),
            path: "/".into(),
            port: None,
            static_upstreams: Vec::new(),
            lb: Balance::RoundRobin,
            websocket: true,
            max_body: "10m".into(),
            connect_timeout_s: 5,
            read_timeout_s: 60,
            send_timeout_s: 60,
            max_fails: 1,
            fail_timeout_s: 10,
            headers: Vec::new(),
            enabled: true,
            error_pages: true,
            https_redirect: true,
            hsts: false,
        }
    }
}

/// The `services` section of a host's document: the host's services and
/// the error pages they use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServicesDoc {
    pub services: Vec<Service>,
    /// status → HTML, for every service that has no override.
    pub error_pages: BTreeMap<u16, String>,
    /// service → status → HTML.
    pub overrides: BTreeMap<String, BTreeMap<u16, String>>,
}

/// How an agent runs its host's nginx, announced with its capabilities so
/// the server renders the same config the agent will.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NginxInfo {
    /// "host" or "container:NAME".
    pub mode: String,
    pub http_port: u16,
    pub https_port: u16,
    /// The agent's own directory (error pages, the access log).
    pub dir: String,
    /// nginx's `stub_status` on this loopback port (host mode only).
    #[serde(default)]
    pub status_port: Option<u16>,
    /// Proxies in front of this nginx whose `X-Forwarded-For` is believed
    /// (`set_real_ip_from`), so the client address is the real one.
    #[serde(default)]
    pub real_ip_from: Vec<crate::cidr::Cidr>,
}

/// The section marker for [`ServicesDoc`].
pub struct Services;

impl crate::desired::Section for Services {
    const NAME: &'static str = "services";
    type Doc = ServicesDoc;
}
