//! A host's services as one nginx include file (http context) and the error
//! page files beside it. Every service is checked again here and left out
//! alone, with why, when it fails; two services claiming one domain and
//! path keep the first by name. The output depends only on the input, so
//! an unchanged state renders the same bytes and causes no reload.

use super::error_pages::{self, STATUSES};
use super::members::Member;
use super::tls::{self, Held};
use super::validate::{self, check};
use super::{Balance, NginxInfo, Service, ServicesDoc};
use crate::cidr::Cidr;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Where nginx listens and where the agent keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub http_port: u16,
    /// The agent's own directory (absolute); error pages live under
    /// `DIR/errors/`, the access log at `DIR/` + [`ACCESS_LOG`].
    pub dir: String,
    /// `stub_status` on `127.0.0.1:PORT`, or on every address of nginx's
    /// container (`status_in_container`), answering private addresses
    /// only: the agent reaches a container on its network address.
    pub status_port: Option<u16>,
    pub status_in_container: bool,
    /// Trusted proxies (`set_real_ip_from`).
    pub real_ip_from: Vec<Cidr>,
    /// What blocked clients get: 403, or 444 (the connection is closed).
    pub deny_status: u16,
    pub https_port: u16,
    /// The certificates on the host, by service: a domain one of them
    /// covers gets an HTTPS server block.
    pub tls: BTreeMap<String, Held>,
}

/// The blocked addresses nginx's `geo` map includes, under the agent's
/// directory (`protection::render_geo` writes it).
pub const BLOCKED_GEO: &str = "blocked.geo";

/// The access log, under the agent's directory.
pub const ACCESS_LOG: &str = "logs/access.log";

/// Where `stub_status` answers on its port.
pub const STATUS_PATH: &str = "/stub_status";

/// One JSON object per request (`escape=json` escapes every value, so a
/// client cannot break out of its string). Numbers nginx always writes
/// as numbers stay bare; the upstream fields can be empty or lists, so
/// they are strings. The path is the request's without its query string:
/// queries carry tokens and personal data.
const LOG_FORMAT: &str = concat!(
    r#"'{"msec":$msec,"request_id":"$request_id","service":"$dozor_service","#,
    r#""client":"$remote_addr","method":"$request_method","path":"$dozor_path","#,
    r#""status":$status,"bytes":$body_bytes_sent,"request_time":$request_time,"#,
    r#""upstream_time":"$upstream_response_time","upstream":"$upstream_addr","#,
    r#""user_agent":"$http_user_agent"}'"#
);

impl Settings {
    /// Refuses a directory nginx config could not hold safely.
    pub fn new(http_port: u16, dir: &str) -> Result<Self, String> {
        if http_port == 0 {
            return Err("the HTTP port must be 1–65535".into());
        }
        if !dir.starts_with('/')
            || dir.contains("..")
            || !dir
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
        {
            return Err(format!(
                "{dir:?}: the nginx directory must be an absolute path of letters, digits, '/', '.', '_' and '-'"
            ));
        }
        Ok(Self {
            http_port,
            dir: dir.trim_end_matches('/').to_string(),
            status_port: None,
            status_in_container: false,
            real_ip_from: Vec::new(),
            deny_status: 403,
            https_port: 443,
            tls: BTreeMap::new(),
        })
    }

    /// What an agent announced, so the server renders what the agent will.
    pub fn from_info(info: &NginxInfo) -> Result<Self, String> {
        let mut s = Self::new(info.http_port, &info.dir)?;
        s.status_port = info.status_port.filter(|p| *p != 0);
        s.status_in_container = info.mode.starts_with("container:");
        s.real_ip_from = info.real_ip_from.clone();
        if info.https_port != 0 {
            s.https_port = info.https_port;
        }
        Ok(s)
    }
}

/// What the agent writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The include file's text.
    pub config: String,
    /// Error pages: path under `Settings::dir` → content.
    pub files: BTreeMap<String, String>,
    /// Services left out, with why.
    pub skipped: Vec<(String, String)>,
}

/// The internal location error pages are served from.
const ERRORS_URI: &str = "/_dozor_errors/";

/// One location of one service, for the server block of one domain.
struct Place<'a> {
    service: &'a Service,
    live: Vec<&'a str>,
}

pub fn render(
    doc: &ServicesDoc,
    members: &BTreeMap<String, Vec<Member>>,
    settings: &Settings,
) -> Rendered {
    let mut out = Rendered::default();
    let mut services: Vec<Service> = Vec::new();
    let mut sorted: Vec<&Service> = doc.services.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for s in sorted {
        if !s.enabled {
            continue;
        }
        match check(s) {
            Ok(s) => services.push(s),
            Err(errors) => {
                let why = errors.iter().map(|e| e.to_string()).collect::<Vec<_>>();
                out.skipped.push((s.name.clone(), why.join("; ")));
            }
        }
    }

    // domain → path → the service there (the first by name).
    let mut by_domain: BTreeMap<&str, BTreeMap<&str, Place>> = BTreeMap::new();
    let mut upstreams: Vec<(&Service, Vec<&str>)> = Vec::new();
    for s in &services {
        let live: Vec<&str> = members
            .get(&s.name)
            .into_iter()
            .flatten()
            .filter(|m| m.live() && validate::address(&m.address).is_ok())
            .map(|m| m.address.as_str())
            .collect();
        let taken: Vec<&str> = s
            .domains
            .iter()
            .filter(|d| {
                by_domain
                    .get(d.as_str())
                    .is_some_and(|paths| paths.contains_key(s.path.as_str()))
            })
            .map(String::as_str)
            .collect();
        if let Some(d) = taken.first() {
            let owner = &by_domain[d][s.path.as_str()].service.name;
            out.skipped.push((
                s.name.clone(),
                format!("{d}{} is already served by {owner}", s.path),
            ));
            continue;
        }
        for d in &s.domains {
            by_domain.entry(d).or_default().insert(
                &s.path,
                Place {
                    service: s,
                    live: live.clone(),
                },
            );
        }
        if s.error_pages {
            for status in STATUSES {
                let html = doc
                    .overrides
                    .get(&s.name)
                    .and_then(|o| o.get(&status))
                    .or_else(|| doc.error_pages.get(&status))
                    .cloned()
                    .unwrap_or_else(|| error_pages::default_page(status));
                out.files.insert(
                    format!("errors/{}/{status}.html", s.name),
                    error_pages::to_file(&html),
                );
            }
        }
        upstreams.push((s, live));
    }

    let c = &mut out.config;
    c.push_str(
        "# Generated by dozor from this host's desired state; dozor-collector\n\
         # rewrites it on every change, so edits here do not last.\n\n",
    );
    c.push_str(
        "map $http_upgrade $dozor_connection_upgrade {\n    default upgrade;\n    '' '';\n}\n",
    );
    if !by_domain.is_empty() {
        // The path without the query string, from the request line (`$uri`
        // is the error page's after an internal redirect).
        c.push_str(
            "\nmap $request_uri $dozor_path {\n    \"~^(?<dozor_p>[^?]*)\" $dozor_p;\n    default \"\";\n}\n",
        );
        let _ = writeln!(c, "log_format dozor_json escape=json\n    {LOG_FORMAT};");
        // Blocked addresses (after real_ip, so a proxy's client is the
        // one judged); the agent rewrites the included file.
        let _ = writeln!(
            c,
            "\ngeo $dozor_blocked {{\n    default 0;\n    include {}/{BLOCKED_GEO};\n}}",
            settings.dir
        );
    }
    if let Some(port) = settings.status_port {
        let (listen, allow) = if settings.status_in_container {
            (
                port.to_string(),
                "        allow 127.0.0.1;\n        allow 10.0.0.0/8;\n        allow 172.16.0.0/12;\n        allow 192.168.0.0/16;\n        allow fc00::/7;\n        deny all;\n",
            )
        } else {
            (format!("127.0.0.1:{port}"), "")
        };
        let _ = write!(
            c,
            "\nserver {{\n    listen {listen};\n    access_log off;\n    location = {STATUS_PATH} {{\n{allow}        stub_status;\n    }}\n    location / {{\n        return 404;\n    }}\n}}\n"
        );
    }
    for (s, live) in &upstreams {
        if live.is_empty() {
            continue;
        }
        let _ = write!(c, "\nupstream dozor_{} {{\n", s.name);
        match s.lb {
            Balance::RoundRobin => {}
            Balance::LeastConn => c.push_str("    least_conn;\n"),
            Balance::IpHash => c.push_str("    ip_hash;\n"),
        }
        for a in live {
            let _ = writeln!(
                c,
                "    server {a} max_fails={} fail_timeout={}s;",
                s.max_fails, s.fail_timeout_s
            );
        }
        c.push_str("    keepalive 32;\n}\n");
    }
    for (domain, paths) in &by_domain {
        // The certificate of the first service here (by path) that covers
        // the domain, if any.
        let cert = paths.values().find_map(|p| {
            settings
                .tls
                .get(&p.service.name)
                .filter(|h| h.covers(domain))
                .map(|h| (p.service.name.as_str(), h))
        });
        server_block(c, domain, paths, settings, None, cert.is_some());
        if cert.is_some() {
            server_block(c, domain, paths, settings, cert, false);
        }
    }
    out
}

/// One domain's server block: HTTP (with the ACME challenge path, and
/// redirects when `https_too`), or HTTPS with `cert`.
fn server_block(
    c: &mut String,
    domain: &str,
    paths: &BTreeMap<&str, Place>,
    settings: &Settings,
    cert: Option<(&str, &Held)>,
    https_too: bool,
) {
    c.push_str("\nserver {\n");
    match cert {
        Some((service, held)) => {
            tls::server_lines(c, &settings.dir, settings.https_port, service, held)
        }
        None => {
            let _ = writeln!(c, "    listen {};", settings.http_port);
        }
    }
    let _ = writeln!(c, "    server_name {domain};");
    // Buffered, flushed every second: counts lag by at most that.
    let _ = writeln!(
        c,
        "    access_log {}/{ACCESS_LOG} dozor_json buffer=32k flush=1s;",
        settings.dir
    );
    if !settings.real_ip_from.is_empty() {
        for net in &settings.real_ip_from {
            let _ = writeln!(c, "    set_real_ip_from {net};");
        }
        c.push_str("    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;\n");
    }
    let deny = if settings.deny_status == 444 {
        444
    } else {
        403
    };
    let _ = writeln!(
        c,
        "    if ($dozor_blocked) {{\n        return {deny};\n    }}"
    );
    if cert.is_none() {
        tls::challenge_location(c, &settings.dir);
    }
    let _ = write!(
        c,
        "    location ^~ {ERRORS_URI} {{\n        internal;\n        alias {}/errors/;\n        ssi on;\n    }}\n",
        settings.dir
    );
    for (path, place) in paths {
        let serve = if cert.is_some() {
            Serve::Proxy {
                hsts: place.service.hsts,
            }
        } else if https_too && place.service.https_redirect {
            Serve::Redirect(tls::redirect_target(settings.https_port))
        } else {
            Serve::Proxy { hsts: false }
        };
        location(c, path, place, &serve);
    }
    c.push_str("}\n");
}

/// What a location does with a request.
enum Serve {
    Proxy {
        hsts: bool,
    },
    /// To HTTPS, where the service is served.
    Redirect(String),
}

/// The location block(s) for one service under one domain.
fn location(c: &mut String, path: &str, p: &Place, serve: &Serve) {
    let s = p.service;
    let prefix = path.trim_end_matches('/');
    if prefix.is_empty() {
        c.push_str("    location / {\n");
    } else {
        // `/api` alone goes to `/api/`; `/apix` is not under it.
        let _ = write!(
            c,
            "    location = {prefix} {{\n        return 308 {prefix}/$is_args$args;\n    }}\n    location ^~ {prefix}/ {{\n"
        );
    }
    // Names the service in its access log lines; it survives the internal
    // redirect to an error page.
    let _ = writeln!(c, "        set $dozor_service \"{}\";", s.name);
    let hsts = match serve {
        Serve::Redirect(to) => {
            let _ = write!(c, "        return 308 {to};\n    }}\n");
            return;
        }
        Serve::Proxy { hsts } => *hsts,
    };
    if s.error_pages {
        for status in STATUSES {
            let _ = writeln!(
                c,
                "        error_page {status} {ERRORS_URI}{}/{status}.html;",
                s.name
            );
        }
    }
    let _ = writeln!(c, "        client_max_body_size {};", s.max_body);
    for (name, value) in &s.headers {
        let _ = writeln!(c, "        add_header {name} \"{value}\" always;");
    }
    // Here, with the service's own headers: add_header in a location
    // replaces every one inherited from the server.
    if hsts {
        let _ = writeln!(c, "        {}", tls::HSTS);
    }
    if p.live.is_empty() {
        c.push_str("        # No member takes traffic now.\n        return 503;\n    }\n");
        return;
    }
    let _ = write!(
        c,
        "        proxy_pass http://dozor_{};\n\
         \x20       proxy_http_version 1.1;\n\
         \x20       proxy_set_header Host $host;\n\
         \x20       proxy_set_header X-Real-IP $remote_addr;\n\
         \x20       proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         \x20       proxy_set_header X-Forwarded-Proto $scheme;\n\
         \x20       proxy_set_header X-Request-Id $request_id;\n",
        s.name
    );
    if s.websocket {
        c.push_str(
            "        proxy_set_header Upgrade $http_upgrade;\n        proxy_set_header Connection $dozor_connection_upgrade;\n",
        );
    } else {
        c.push_str("        proxy_set_header Connection \"\";\n");
    }
    let _ = write!(
        c,
        "        proxy_connect_timeout {}s;\n        proxy_read_timeout {}s;\n        proxy_send_timeout {}s;\n\
         \x20       proxy_next_upstream error timeout;\n    }}\n",
        s.connect_timeout_s, s.read_timeout_s, s.send_timeout_s
    );
}
