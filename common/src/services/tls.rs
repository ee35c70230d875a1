//! HTTPS for services: where a host keeps each service's certificate, and
//! the TLS part of a domain's server block. A domain gets an HTTPS server
//! block once a certificate covering it is on disk; its HTTP block then
//! redirects (per service, `https_redirect`), except the ACME challenge
//! path, which stays on HTTP for every domain so that issuing or renewing
//! never needs a config change.

use crate::certs::covers;
use std::fmt::Write;

/// Under the agent's directory: one folder per service.
pub const CERTS_DIR: &str = "certs";
/// Under the agent's directory: nginx serves `CHALLENGE_PREFIX` from here.
pub const ACME_ROOT: &str = "acme";

/// A certificate the host holds for a service, as nginx will read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub sans: Vec<String>,
    /// It names an OCSP responder: staple.
    pub ocsp: bool,
}

/// The chain and key files of a service's certificate (names are slugs,
/// checked before anything is rendered, so the paths are plain).
pub fn paths(dir: &str, service: &str) -> (String, String) {
    let base = format!("{dir}/{CERTS_DIR}/{service}");
    (format!("{base}/fullchain.pem"), format!("{base}/key.pem"))
}

impl Held {
    pub fn covers(&self, domain: &str) -> bool {
        self.sans.iter().any(|s| covers(s, domain))
    }
}

/// Mozilla's "intermediate" profile: TLS 1.2 and 1.3, forward-secret AEAD
/// ciphers only; clients choose (`ssl_prefer_server_ciphers off`), as
/// every cipher on the list is strong.
const CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// The TLS lines of an HTTPS server block serving `service`'s certificate.
/// Every `ssl_*` is set here, in the server, so nothing depends on (or
/// clashes with) what the main nginx.conf sets in `http`.
pub fn server_lines(c: &mut String, dir: &str, https_port: u16, service: &str, held: &Held) {
    let (chain, key) = paths(dir, service);
    let _ = write!(
        c,
        "    listen {https_port} ssl http2;\n\
         \x20   ssl_certificate {chain};\n\
         \x20   ssl_certificate_key {key};\n\
         \x20   ssl_protocols TLSv1.2 TLSv1.3;\n\
         \x20   ssl_ciphers {CIPHERS};\n\
         \x20   ssl_prefer_server_ciphers off;\n\
         \x20   ssl_session_timeout 1d;\n\
         \x20   ssl_session_cache shared:dozor_tls:10m;\n\
         \x20   ssl_session_tickets off;\n"
    );
    // Only a certificate that names a responder can be stapled; nginx
    // warns on every reload otherwise.
    if held.ocsp {
        c.push_str("    ssl_stapling on;\n    ssl_stapling_verify on;\n");
    }
}

/// The challenge location every HTTP server block has.
pub fn challenge_location(c: &mut String, dir: &str) {
    let _ = write!(
        c,
        "    location ^~ {} {{\n        root {dir}/{ACME_ROOT};\n        default_type text/plain;\n        try_files $uri =404;\n    }}\n",
        crate::certs::CHALLENGE_PREFIX
    );
}

/// Where an HTTP request goes once its domain is on HTTPS.
pub fn redirect_target(https_port: u16) -> String {
    if https_port == 443 {
        "https://$host$request_uri".into()
    } else {
        format!("https://$host:{https_port}$request_uri")
    }
}

/// One year, with subdomains left out: a service cannot speak for every
/// name under its domain.
pub const HSTS: &str = "add_header Strict-Transport-Security \"max-age=31536000\" always;";
