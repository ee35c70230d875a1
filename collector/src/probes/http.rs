//! One HTTP probe, timed phase by phase as blackbox_exporter times them:
//! resolve, connect, tls (0 for plain HTTP), processing (request sent to
//! the first byte of the answer) and transfer (the body). The whole probe
//! runs under one timeout; the body is read up to [`MAX_BODY`] for the
//! match and the rest is drained uncounted.

use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Body bytes kept for the match.
pub const MAX_BODY: usize = 1 << 20;

/// What to ask and what counts as up.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where to connect (host and port; a name is resolved).
    pub connect: String,
    /// The `Host` header and the path.
    pub host: String,
    pub path: String,
    pub timeout: Duration,
    /// Statuses that count as up.
    pub up: fn(u16) -> bool,
    /// A substring the body must hold.
    pub body_match: Option<String>,
}

/// blackbox_exporter's phases, in its order.
pub const PHASES: [&str; 5] = ["resolve", "connect", "tls", "processing", "transfer"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub success: bool,
    pub duration: Duration,
    /// 0 when no answer came.
    pub status: u16,
    pub phases: [Duration; 5],
    pub body_bytes: usize,
    /// Why it is down.
    pub failure: Option<String>,
}

pub async fn probe(r: &Request) -> Outcome {
    let start = Instant::now();
    let mut out = Outcome::default();
    let run = run(r, &mut out);
    let res = tokio::time::timeout(r.timeout, run).await;
    out.duration = start.elapsed();
    match res {
        Err(_) => out.failure = Some(format!("no answer within {:?}", r.timeout)),
        Ok(Err(e)) => out.failure = Some(e),
        Ok(Ok(())) => {
            if !(r.up)(out.status) {
                out.failure = Some(format!("status {}", out.status));
            }
        }
    }
    out.success = out.failure.is_none();
    out
}

async fn run(r: &Request, out: &mut Outcome) -> Result<(), String> {
    let t = Instant::now();
    let addr: SocketAddr = tokio::net::lookup_host(r.connect.as_str())
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", r.connect))?
        .next()
        .ok_or_else(|| format!("{} resolves to nothing", r.connect))?;
    out.phases[0] = t.elapsed();

    let t = Instant::now();
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    out.phases[1] = t.elapsed();

    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(conn);
    let req = hyper::Request::get(r.path.as_str())
        .header(hyper::header::HOST, r.host.as_str())
        .header(hyper::header::USER_AGENT, super::user_agent())
        .header(hyper::header::CONNECTION, "close")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| format!("bad probe request: {e}"))?;
    let t = Instant::now();
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("no HTTP answer: {e}"))?;
    out.phases[3] = t.elapsed();
    out.status = resp.status().as_u16();

    let t = Instant::now();
    let mut body = resp.into_body();
    let mut kept: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the body broke off: {e}"))?;
        if let Some(data) = frame.data_ref() {
            out.body_bytes += data.len();
            let room = MAX_BODY.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    out.phases[4] = t.elapsed();
    driver.abort();
    if let Some(want) = &r.body_match {
        if !String::from_utf8_lossy(&kept).contains(want.as_str()) {
            return Err(format!("the body does not contain {want:?}"));
        }
    }
    Ok(())
}

/// Up for a service's own probe: anything but a server error (a 404 from
/// the application is an application that answers).
pub fn not_server_error(status: u16) -> bool {
    (100..500).contains(&status)
}

/// Up for a check: 2xx, as blackbox_exporter's default.
pub fn success_2xx(status: u16) -> bool {
    (200..300).contains(&status)
}
