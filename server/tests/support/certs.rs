//! What the certificate tests share: the API as an admin's token sees
//! it, a server with one agent running the test's nginx, a service behind
//! a replica, and curl over HTTPS trusting a given root.

use super::nginx::Nginx;
use super::{api_token, eventually, spawn_server};
use serde_json::{json, Value};
use std::time::Duration;

/// curl over HTTPS to `domain` on nginx's HTTPS port, trusting `ca`:
/// (exit code, body).
pub fn curl_https(nginx: &Nginx, ca: &std::path::Path, domain: &str) -> (i32, String) {
    let port = nginx.https_port;
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{domain}:{port}:127.0.0.1")])
        .arg(format!("https://{domain}:{port}/"))
        .output()
        .expect("curl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn cert(&self, service: &str) -> Value {
        let (_, v) = self
            .send(reqwest::Method::GET, "/api/v1/certificates", None)
            .await;
        v["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["service"] == service)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

pub async fn setup(
    name: &str,
    nginx: &Nginx,
) -> (
    dozor_server::Server,
    tempfile::TempDir,
    Api,
    tokio_util::sync::CancellationToken,
) {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let (_agent, stop, _) =
        super::nginx::start_agent(&server, name, Duration::from_secs(1), nginx, None).await;
    let api = Api {
        base: server.url(),
        token: api_token(&server, dozor_server::storage::Scope::Admin).await,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    (server, dir, api, stop)
}

pub async fn service(api: &Api, name: &str, host: &str, domain: &str, nginx: &Nginx) {
    let (status, v) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/services",
            Some(json!({"name": name, "host": host, "domains": [domain], "connect_timeout_s": 1})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    eventually(30, || async {
        nginx
            .get(domain, "/")
            .await
            .1
            .contains("replica")
            .then_some(())
    })
    .await;
}
