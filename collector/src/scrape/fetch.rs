//! One HTTP fetch of a target: its timeout covers connecting, the headers
//! and the whole body; the body is read in chunks and abandoned as soon as
//! it passes the limit, so a huge response costs at most the limit.

use super::target::Target;

pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,application/json;q=0.4,*/*;q=0.1";

/// The body and its Content-Type.
pub async fn fetch(http: &reqwest::Client, t: &Target) -> Result<(Vec<u8>, String), String> {
    let work = async {
        let mut resp = http
            .get(&t.url)
            .header(reqwest::header::ACCEPT, ACCEPT)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if resp
            .content_length()
            .is_some_and(|n| n as usize > t.body_limit)
        {
            return Err(format!("body larger than the {} byte limit", t.body_limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > t.body_limit {
                return Err(format!("body larger than the {} byte limit", t.body_limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, ct))
    };
    match tokio::time::timeout(t.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "timed out after {}",
            dozor_common::format_duration(t.timeout)
        )),
    }
}

/// reqwest's errors without the URL repeated (the target names it).
fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}
