//! nginx's `stub_status` page, read on the port dozor's config opens for
//! it (loopback on the host, the container's address in a container), as
//! nginx-prometheus-exporter reads it and under its names.

use crate::output::Output;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The page is a few lines; anything longer is not nginx's.
const MAX_RESPONSE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub active: u64,
    pub accepted: u64,
    pub handled: u64,
    pub requests: u64,
    pub reading: u64,
    pub writing: u64,
    pub waiting: u64,
}

/// The page's body:
/// ```text
/// Active connections: 1
/// server accepts handled requests
///  2 2 2
/// Reading: 0 Writing: 1 Waiting: 0
/// ```
pub fn parse(body: &str) -> Result<Status, String> {
    let bad = || {
        format!(
            "not a stub_status page: {:?}",
            body.chars().take(80).collect::<String>()
        )
    };
    let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<u64>().ok()).ok_or_else(bad);
    let active = num(lines
        .next()
        .and_then(|l| l.strip_prefix("Active connections:"))
        .map(str::trim))?;
    if lines.next() != Some("server accepts handled requests") {
        return Err(bad());
    }
    let mut counts = lines.next().ok_or_else(bad)?.split_whitespace();
    let (accepted, handled, requests) = (
        num(counts.next())?,
        num(counts.next())?,
        num(counts.next())?,
    );
    let rw: Vec<&str> = lines.next().ok_or_else(bad)?.split_whitespace().collect();
    if rw.len() != 6 || rw[0] != "Reading:" || rw[2] != "Writing:" || rw[4] != "Waiting:" {
        return Err(bad());
    }
    Ok(Status {
        active,
        accepted,
        handled,
        requests,
        reading: num(Some(rw[1]))?,
        writing: num(Some(rw[3]))?,
        waiting: num(Some(rw[5]))?,
    })
}

/// GET the page from `ip:port`, within 2 s.
pub async fn fetch(ip: std::net::IpAddr, port: u16, path: &str) -> Result<Status, String> {
    let at = std::net::SocketAddr::new(ip, port);
    let read = async {
        let mut s = tokio::net::TcpStream::connect(at)
            .await
            .map_err(|e| format!("stub_status on {at}: {e}"))?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        (&mut s)
            .take(MAX_RESPONSE as u64 + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        if buf.len() > MAX_RESPONSE {
            return Err(format!(
                "stub_status on 127.0.0.1:{port}: the answer is too long"
            ));
        }
        let text = String::from_utf8_lossy(&buf);
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
        if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
            return Err(format!(
                "stub_status on {at}: {}",
                head.lines().next().unwrap_or("")
            ));
        }
        parse(body)
    };
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .map_err(|_| format!("stub_status on {at}: no answer within 2 s"))?
}

/// nginx-prometheus-exporter's series; `nginx_up` 0 and nothing else when
/// the page could not be read.
pub fn emit(out: &mut Output, status: &Result<Status, String>) {
    let Ok(s) = status else {
        out.push("nginx_up", &[], 0.0);
        return;
    };
    out.push("nginx_up", &[], 1.0);
    for (name, v) in [
        ("nginx_connections_accepted", s.accepted),
        ("nginx_connections_active", s.active),
        ("nginx_connections_handled", s.handled),
        ("nginx_connections_reading", s.reading),
        ("nginx_connections_waiting", s.waiting),
        ("nginx_connections_writing", s.writing),
        ("nginx_http_requests_total", s.requests),
    ] {
        out.push(name, &[], v as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_page_and_refuses_others() {
        let s = parse("Active connections: 1 \nserver accepts handled requests\n 2 3 4 \nReading: 0 Writing: 1 Waiting: 5 \n").unwrap();
        assert_eq!(
            s,
            Status {
                active: 1,
                accepted: 2,
                handled: 3,
                requests: 4,
                reading: 0,
                writing: 1,
                waiting: 5
            }
        );
        assert!(parse("<html>404</html>").is_err());
        assert!(parse("Active connections: x\n").is_err());
    }
}
