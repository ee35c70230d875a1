//! What a service may hold. Everything here ends up in an nginx config
//! file, so each field has a narrow alphabet that cannot carry a directive:
//! no whitespace (but single spaces inside a header value, which is quoted),
//! quotes, `;`, `{`, `}`, `$`, `#`, `\` or control characters anywhere.
//! The server runs [`check`] when a service is saved and the agent runs it
//! again before rendering, so a value that slipped past one (an older
//! server, a hand-edited database) still never reaches nginx.

use super::Service;
use std::fmt;

/// A field that is wrong, and why, in words for the form and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

fn bad(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

pub const MAX_DOMAINS: usize = 50;
pub const MAX_STATIC: usize = 64;
pub const MAX_HEADERS: usize = 32;
pub const MAX_PATH: usize = 256;

/// The service with its domains lower-cased and in punycode, sorted and
/// without repeats, and its path without a trailing `/`; or every field
/// that is wrong.
pub fn check(s: &Service) -> Result<Service, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = s.clone();
    if let Err(e) = name(&s.name) {
        errors.push(bad("name", e));
    }
    if let Err(e) = host(&s.host) {
        errors.push(bad("host", e));
    }
    match domains(&s.domains) {
        Ok(d) => out.domains = d,
        Err(e) => errors.push(bad("domains", e)),
    }
    match path(&s.path) {
        // `/api/` and `/api` are one prefix.
        Ok(()) if s.path.len() > 1 => out.path = s.path.trim_end_matches('/').to_string(),
        Ok(()) => {}
        Err(e) => errors.push(bad("path", e)),
    }
    if s.port == Some(0) {
        errors.push(bad("port", "must be 1–65535"));
    }
    if s.static_upstreams.len() > MAX_STATIC {
        errors.push(bad(
            "static_upstreams",
            format!("at most {MAX_STATIC} addresses"),
        ));
    }
    for a in &s.static_upstreams {
        if let Err(e) = address(a) {
            errors.push(bad("static_upstreams", format!("{a:?}: {e}")));
            break;
        }
    }
    if let Err(e) = size(&s.max_body) {
        errors.push(bad("max_body", e));
    }
    for (field, v) in [
        ("connect_timeout_s", s.connect_timeout_s),
        ("read_timeout_s", s.read_timeout_s),
        ("send_timeout_s", s.send_timeout_s),
        ("fail_timeout_s", s.fail_timeout_s),
    ] {
        if !(1..=3600).contains(&v) {
            errors.push(bad(field, "must be 1–3600 seconds"));
        }
    }
    if s.max_fails > 100 {
        errors.push(bad("max_fails", "must be 0–100"));
    }
    if s.headers.len() > MAX_HEADERS {
        errors.push(bad("headers", format!("at most {MAX_HEADERS} headers")));
    }
    for (n, v) in &s.headers {
        if let Err(e) = header(n, v) {
            errors.push(bad("headers", e));
            break;
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A slug: it names nginx upstreams, files and directories.
pub fn name(n: &str) -> Result<(), String> {
    if n.is_empty() || n.len() > 63 {
        return Err("1–63 characters".into());
    }
    if !n
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || n.starts_with('-')
    {
        return Err("lower-case letters, digits and '-', not starting with '-'".into());
    }
    Ok(())
}

/// An agent's name as enrolled (it is only compared, never rendered, but
/// it is shown, so it keeps the same alphabet the agents use).
fn host(h: &str) -> Result<(), String> {
    if h.is_empty() || h.len() > 253 {
        return Err("name the agent that serves it".into());
    }
    if !h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err("an agent's name: letters, digits, '-', '.', '_'".into());
    }
    Ok(())
}

/// Domains as RFC 1123 names, lower-cased, international ones in
/// punycode, `*.` allowed as the first label; sorted, without repeats.
pub fn domains(list: &[String]) -> Result<Vec<String>, String> {
    if list.is_empty() {
        return Err("at least one domain".into());
    }
    if list.len() > MAX_DOMAINS {
        return Err(format!("at most {MAX_DOMAINS} domains"));
    }
    let mut out = Vec::with_capacity(list.len());
    for d in list {
        out.push(domain(d).map_err(|e| format!("{d:?}: {e}"))?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// One domain, normalised.
pub fn domain(d: &str) -> Result<String, String> {
    let d = d.trim_end_matches('.');
    let (wild, rest) = match d.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, d),
    };
    if rest.is_empty() {
        return Err("empty".into());
    }
    // Refuse what no name may hold before IDNA sees it (IDNA maps some
    // of these away, and a refusal should say what was wrong).
    if rest
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"';{}$#\\/:*@?&=%!`|<>()[],".contains(c))
    {
        return Err("letters, digits, '-' and '.' only (one leading '*.' for a wildcard)".into());
    }
    let ascii = idna::domain_to_ascii_strict(rest).map_err(|_| "not a valid domain name")?;
    if ascii.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 && !wild && ascii != "localhost" {
        // A single label is fine for tests (`app.test` has two); a bare
        // word is almost always a mistake.
        return Err("a full name such as app.example.com".into());
    }
    for l in &labels {
        if l.is_empty() || l.len() > 63 {
            return Err("each label 1–63 characters".into());
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err("a label may not start or end with '-'".into());
        }
        if !l
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("letters, digits and '-' only".into());
        }
    }
    Ok(if wild { format!("*.{ascii}") } else { ascii })
}

/// A path prefix: `/`, then segments of `[A-Za-z0-9._~-]`, no `..`.
pub fn path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err("starts with '/'".into());
    }
    if p.len() > MAX_PATH {
        return Err(format!("at most {MAX_PATH} characters"));
    }
    if p.contains("//") {
        return Err("no empty segments ('//')".into());
    }
    for seg in p.split('/').skip(1) {
        if seg == "." || seg == ".." {
            return Err("no '.' or '..' segments".into());
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
        {
            return Err("letters, digits, '.', '_', '~', '-' and '/' only".into());
        }
    }
    Ok(())
}

/// `host:port` for a static upstream: an IPv4 address, `[IPv6]` or a
/// domain, and a port 1–65535.
pub fn address(a: &str) -> Result<(), String> {
    let (h, port) = a.rsplit_once(':').ok_or("host:port, e.g. 10.0.0.5:8080")?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err("port 1–65535".into()),
    }
    if let Some(v6) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "not an IPv6 address".into());
    }
    if h.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let d = domain(h)?;
    if d != h || d.starts_with('*') {
        return Err("a lower-case name without wildcards".into());
    }
    Ok(())
}

/// nginx's size syntax, at most 100 GiB: `0`, `512`, `512k`, `10m`, `1g`.
pub fn size(s: &str) -> Result<(), String> {
    let (digits, unit) = match s.as_bytes().last() {
        Some(b'k' | b'm' | b'g') => (&s[..s.len() - 1], &s[s.len() - 1..]),
        _ => (s, ""),
    };
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a size such as 10m, 512k or 0 (no limit)".into());
    }
    let n: u64 = digits.parse().map_err(|_| "too large")?;
    let bytes = n.saturating_mul(match unit {
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => 1,
    });
    if bytes > 100 << 30 {
        return Err("at most 100g".into());
    }
    Ok(())
}

/// A response header: an RFC 7230 token for the name; printable ASCII for
/// the value, single spaces allowed (it is written in double quotes), none
/// of `"`, `'`, `;`, `{`, `}`, `$`, `#`, `\`.
pub fn header(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("a header name of 1–64 characters".into());
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!(
            "{name:?}: header names are letters, digits and '-'"
        ));
    }
    if value.len() > 1024 {
        return Err(format!("{name}: a value of at most 1024 characters"));
    }
    if value.starts_with(' ') || value.ends_with(' ') || value.contains("  ") {
        return Err(format!("{name}: no leading, trailing or repeated spaces"));
    }
    if !value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && !b"\"';{}$#\\".contains(&b))
    {
        return Err(format!(
            "{name}: printable ASCII without quotes, ';', '{{', '}}', '$', '#' or '\\'"
        ));
    }
    Ok(())
}
