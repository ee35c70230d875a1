//! Every route reads its body with a limit before doing any work: the test
//! walks the server's own route table and posts a body larger than any
//! limit to each, with credentials good enough to get past sign-in, and
//! expects 413 (or 405 where the route takes no POST). Bodies are streamed
//! over a raw connection, so a server that answers early is seen answering
//! early instead of as a broken pipe.

use crate::support;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Larger than the largest limit (8 MiB for heartbeats, task results and
/// remote_write).
const BODY: usize = 9 << 20;

/// POSTs `len` bytes to `path` and returns the status the server answers.
async fn post_raw(addr: std::net::SocketAddr, path: &str, headers: &str, len: usize) -> u16 {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\nConnection: close\r\n{headers}\r\n"
    );
    let writer = tokio::spawn(async move {
        if wr.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b'a'; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            // The server may answer and close before the body is sent.
            if wr.write_all(&chunk[..n]).await.is_err() {
                return;
            }
            left -= n;
        }
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    writer.abort();
    assert!(read.is_ok(), "{path}: no answer within a minute");
    let text = String::from_utf8_lossy(&got);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{path}: no status line in {text:?}"))
}

fn concrete(template: &str) -> String {
    template
        .replace("{name}", "a")
        .replace("{id}", "1")
        .replace("{action}", "role")
        .replace("{host}", "h")
        .replace("{slug}", "host")
        .replace("{chat}", "1")
}

#[tokio::test]
async fn every_route_refuses_an_oversized_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let addr = server.addr;
    let session = web_session(&server).await;
    let agent_key = enroll(&server.url(), &enroll_token(&server), "web-1").await;
    let write_token = std::fs::read_to_string(&server.remote_write_token_path).unwrap();
    let page_auth = format!("Cookie: {session}\r\n");
    let agent_auth = format!("Authorization: Bearer {agent_key}\r\n");
    let write_auth = format!("Authorization: Bearer {}\r\n", write_token.trim());

    let routes = server.routes.clone();
    assert!(routes.len() > 60, "the whole table: {routes:?}");
    let mut wrong = Vec::new();
    for template in &routes {
        let path = concrete(template);
        let auth = if path.starts_with("/api/v1/agents/") {
            &agent_auth
        } else if path == "/prometheus/api/v1/write" {
            &write_auth
        } else {
            &page_auth
        };
        let status = post_raw(addr, &path, auth, BODY).await;
        // Answers an empty list and never looks at the request.
        let reads_nothing = *template == "/prometheus/api/v1/query_exemplars" && status == 200;
        if status != 413 && status != 405 && !reads_nothing {
            wrong.push(format!("{template}: {status}"));
        }
    }
    assert!(wrong.is_empty(), "routes that did not refuse: {wrong:#?}");
    // And the server is still well.
    let r = reqwest::get(format!("{}/readyz", server.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn enrolment_is_rate_limited_before_its_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    // The default allows 10 a minute per address; the 11th is refused
    // without reading what it sends.
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(post_raw(server.addr, "/api/v1/agents/enroll", "", BODY).await);
    }
    assert!(statuses[..10].iter().all(|s| *s == 413), "{statuses:?}");
    assert_eq!(statuses[10], 429, "{statuses:?}");
    server.shutdown().await;
}

#[test]
fn the_route_table_lists_every_route_in_the_sources() {
    // A route registered without going through the table would escape
    // the walk above: count `.route(` calls in the HTTP sources.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![root.join("http.rs")];
    let mut dirs = vec![root.join("http")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let mut calls = 0;
    let mut recorded = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        calls += text.matches(".route(").count();
        recorded += text.matches(".route(t.add(").count()
            + text.matches(".route(\n            t.add(").count();
    }
    assert!(calls > 60);
    assert_eq!(calls, recorded, "every .route( records its path in Paths");
}
