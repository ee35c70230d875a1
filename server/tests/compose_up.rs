//! docker-compose.yml brought up for real, with the three images built here
//! FROM scratch (server, collector, and PostgreSQL with TimescaleDB from
//! this host's packages): the database is created with the generated
//! password, the server stores in TimescaleDB, the collector enrols with
//! the token from the server's volume, and this host appears with its own
//! network interfaces (the collector runs in the host's namespaces).

use crate::support;

use std::process::Command;
use support::docker::{docker, scratch_image};
use support::*;

/// The stack and its images, taken down (volumes too) however the test ends.
struct Stack {
    /// The program and the words before compose's own arguments.
    compose: (&'static str, &'static [&'static str]),
    project: String,
    images: Vec<String>,
    env: Vec<(&'static str, String)>,
}

impl Stack {
    fn run(&self, args: &[&str]) -> Result<String, String> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let out = Command::new(self.compose.0)
            .args(self.compose.1)
            .args(["-p", &self.project])
            .args(args)
            .current_dir(root)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .map_err(|e| e.to_string())?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(logs) = self.run(&["logs", "--no-color", "--tail", "40"]) {
                eprintln!("{logs}");
            }
        }
        let _ = self.run(&["down", "-v", "--remove-orphans", "-t", "5"]);
        for image in &self.images {
            let _ = docker(&["rmi", "-f", image]);
        }
    }
}

/// docker-compose (v1, Debian 12's package) or `docker compose` (v2).
fn compose_tool() -> Option<(&'static str, &'static [&'static str])> {
    let tools: [(&'static str, &'static [&'static str]); 2] =
        [("docker", &["compose"]), ("docker-compose", &[])];
    tools.into_iter().find(|(cmd, pre)| {
        Command::new(cmd)
            .args(*pre)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The interface this host's default IPv4 route leaves through.
fn default_route_interface() -> Option<String> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    routes
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[1] == "00000000")
        .map(|f| f[0].to_string())
}

/// The one-time setup link's token from the server's log.
fn setup_token(stack: &Stack) -> Option<String> {
    let logs = stack.run(&["logs", "--no-color", "dozor-server"]).ok()?;
    let at = logs.find("/setup?token=")? + "/setup?token=".len();
    let token: String = logs[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!token.is_empty()).then_some(token)
}

/// Creates the first admin through the setup form; returns the Cookie
/// header that carries the session.
async fn first_admin(base: &str, token: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{base}/setup?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the setup page");
    let csrf = page.headers()["set-cookie"].to_str().unwrap();
    let csrf = csrf.split(';').next().unwrap().to_string();
    let value = csrf.split_once('=').unwrap().1.to_string();
    let resp = http
        .post(format!("{base}/setup"))
        .header("cookie", &csrf)
        .form(&[
            ("csrf", value.as_str()),
            ("token", token),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the first admin is created");
    let session = resp.headers()["set-cookie"].to_str().unwrap();
    format!("{csrf}; {}", session.split(';').next().unwrap())
}

#[tokio::test]
async fn the_compose_stack_runs_from_local_images_and_shows_this_host() {
    if docker(&["info", "--format", "{{.ServerVersion}}"]).is_err() {
        missing("the Docker Engine");
        return;
    }
    let Some(compose) = compose_tool() else {
        missing("docker-compose (Debian package)");
        return;
    };
    let pid = std::process::id();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (server, collector, db) = (
        format!("dozor-test/server:compose-{pid}"),
        format!("dozor-test/collector:compose-{pid}"),
        format!("dozor-test/timescaledb:compose-{pid}"),
    );
    let stack = Stack {
        compose,
        project: format!("dozortest{pid}"),
        images: vec![server.clone(), collector.clone(), db.clone()],
        env: vec![
            ("DOZOR_SERVER_IMAGE", server.clone()),
            ("DOZOR_COLLECTOR_IMAGE", collector.clone()),
            ("DOZOR_DB_IMAGE", db.clone()),
            ("DOZOR_PORT", port.to_string()),
            ("DOZOR_INTERVAL", "2s".into()),
        ],
    };
    scratch_image("server", &server);
    scratch_image("collector", &collector);
    let built = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/image.sh"))
        .args(["timescaledb", "--tag", &db])
        .output()
        .expect("scripts/image.sh runs");
    assert!(
        built.status.success(),
        "the TimescaleDB image: {}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );

    // --no-build: the images above, never the registry-bound Dockerfile.
    stack
        .run(&["up", "-d", "--no-build"])
        .unwrap_or_else(|e| panic!("compose up: {e}"));
    let base = format!("http://127.0.0.1:{port}");
    let ready = eventually(120, || {
        let url = format!("{base}/readyz");
        async move {
            let r = reqwest::get(url).await.ok()?;
            let ok = r.status().is_success();
            let body = r.text().await.ok()?;
            ok.then_some(body)
        }
    })
    .await;
    assert!(
        ready.contains("postgresql") && ready.contains("(timescaledb)"),
        "the server stores in the stack's TimescaleDB: {ready}"
    );

    let token = eventually(30, || async { setup_token(&stack) }).await;
    let cookie = first_admin(&base, &token).await;
    let http = reqwest::Client::new();
    let wanted: Vec<String> = ["docker0".to_string()]
        .into_iter()
        .chain(default_route_interface())
        .filter(|d| std::path::Path::new("/sys/class/net").join(d).exists())
        .collect();
    assert!(!wanted.is_empty(), "this host has docker0");
    let devices = eventually(120, || {
        let (http, cookie, base, wanted) = (&http, &cookie, &base, &wanted);
        async move {
            let v: serde_json::Value = http
                .get(format!("{base}/prometheus/api/v1/query"))
                .query(&[("query", "node_network_up")])
                .header("cookie", cookie)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let devices: Vec<String> = v["data"]["result"]
                .as_array()?
                .iter()
                .filter_map(|s| s["metric"]["device"].as_str().map(str::to_string))
                .collect();
            wanted
                .iter()
                .all(|w| devices.contains(w))
                .then_some(devices)
        }
    })
    .await;
    // Inside its own network namespace the collector would see lo and one
    // eth0; the host's bridge proves it reads the host's.
    assert!(devices.contains(&"docker0".to_string()), "{devices:?}");

    // The agents page lists it under this machine's name (the collector
    // reads the host's hostname through /host).
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let page = http
        .get(format!("{base}/agents"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(">{hostname}<")),
        "{hostname} on the agents page: {page}"
    );
}
