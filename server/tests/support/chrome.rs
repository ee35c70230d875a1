//! Headless Chromium through chromedriver (WebDriver, fantoccini), for the
//! browser tests: start, console log, screenshots, scripts.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole process group: killing chromedriver alone orphaned its
        // Chromium (a dozen processes, 1 GB, per test) for the rest of
        // the run.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Chromedriver's browser log (console messages, CSP reports, JS errors).
#[derive(Debug)]
pub struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// A Chrome DevTools Protocol command, through chromedriver.
#[derive(Debug)]
struct Cdp(Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

/// A PNG of the whole page, below the fold too, at the window's width.
pub async fn full_page_screenshot(c: &Client) -> Vec<u8> {
    use base64::Engine;
    let size = js(
        c,
        "return [window.innerWidth, document.documentElement.scrollHeight]",
    )
    .await;
    let clip = json!({"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1});
    let cmd = json!({"cmd": "Page.captureScreenshot",
                     "params": {"format": "png", "captureBeyondViewport": true, "clip": clip}});
    let shot = c.issue_cmd(Cdp(cmd)).await.expect("CDP screenshot");
    let data = shot["data"].as_str().expect("screenshot data");
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64 PNG")
}

pub async fn browser() -> Option<(Driver, Client)> {
    let Some(bin) = ["chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        super::missing("chromedriver (Debian package chromium-driver)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        // Its own process group, with the browser it starts (see Drop).
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let caps = json!({
        "goog:chromeOptions": {
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--window-size=1280,1000", "--disable-dev-shm-usage"],
        },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let caps = caps.as_object().unwrap().clone();
    // Two rustls providers are linked (reqwest, fantoccini): pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    for _ in 0..50 {
        let c = ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        if let Ok(c) = c {
            return Some((driver, c));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("chromedriver on port {port} did not accept a session");
}

/// Console entries at WARNING or above since the last call.
pub async fn console_problems(c: &Client) -> Vec<String> {
    let log = c.issue_cmd(BrowserLog).await.expect("browser log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|e| matches!(e["level"].as_str(), Some("SEVERE" | "WARNING")))
        .map(|e| e["message"].to_string())
        .collect()
}

/// Checks a screenshot is not blank: luminance varies across the image.
pub fn not_blank(png_bytes: &[u8], path: &std::path::Path) {
    std::fs::write(path, png_bytes).unwrap();
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let lum: Vec<f64> = buf[..info.buffer_size()]
        .chunks(px)
        .map(|p| 0.3 * p[0] as f64 + 0.59 * p[1] as f64 + 0.11 * p[2] as f64)
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let var = lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    assert!(
        var > 100.0,
        "{} looks blank (variance {var:.1})",
        path.display()
    );
}

pub async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Creates `admin` in storage and signs in through the real form.
pub async fn sign_in_admin(c: &Client, server: &dozor_server::Server) {
    use fantoccini::Locator;
    let hash = dozor_server::auth::password::hash(super::ADMIN_PASSWORD);
    let role = dozor_server::storage::Role::Admin;
    server
        .store
        .create_user("admin", &hash, role, false, super::now_ms())
        .await
        .unwrap();
    let base = server.url();
    c.goto(&format!("{base}/")).await.unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/login", "pages need a session");
    c.find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys("admin")
        .await
        .unwrap();
    let pw = c.find(Locator::Css("input[name=password]")).await.unwrap();
    pw.send_keys(super::ADMIN_PASSWORD).await.unwrap();
    c.find(Locator::Css("form.auth-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The sign-in page has a `main` too: wait for the signed-in shell's
    // navigation, so the next `goto` cannot race the sign-in redirect.
    c.wait().for_element(Locator::Css("nav#nav")).await.unwrap();
}
