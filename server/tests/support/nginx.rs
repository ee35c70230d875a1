//! Debian's nginx, started by a test on a free port with its own prefix
//! and main config that includes only the test's conf.d (where the agent
//! writes), and an agent that runs it for dozor's services.

use super::{enroll_token, fixture_root, missing};
use dozor_collector::agent::{Agent, AgentConfig};
use dozor_collector::http::ServerClient;
use dozor_collector::proc::HostInput;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Nginx {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub main_conf: PathBuf,
    pub conf_dir: PathBuf,
    child: std::process::Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master takes its workers with it (a SIGKILLed
        // master leaves them running, holding the port and the test's
        // output pipe).
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

pub fn binary() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nginx {
    /// None (a skip, or a failure when CI=true) without nginx.
    pub fn start() -> Option<Self> {
        let Some(bin) = binary() else {
            missing("nginx (Debian package)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let conf_dir = d.join("conf.d");
        std::fs::create_dir_all(&conf_dir).unwrap();
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        let port = free_port();
        // Workers run as root: the test's directories are the test's own.
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        });
        let user = if root { "user root;" } else { "" };
        let main = format!(
            "{user}\nworker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n    access_log off;\n    client_body_temp_path {d}/tmp/body;\n    proxy_temp_path {d}/tmp/proxy;\n\
             \x20   fastcgi_temp_path {d}/tmp/fastcgi;\n    uwsgi_temp_path {d}/tmp/uwsgi;\n    scgi_temp_path {d}/tmp/scgi;\n\
             \x20   default_type text/plain;\n\
             \x20   server {{ listen {port} default_server; return 404; }}\n\
             \x20   include {d}/conf.d/*.conf;\n}}\n",
            d = d.display()
        );
        let main_conf = d.join("nginx.conf");
        std::fs::write(&main_conf, main).unwrap();
        let child = std::process::Command::new(bin)
            .arg("-c")
            .arg(&main_conf)
            .arg("-p")
            .arg(d)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx starts");
        let log = d.join("error.log");
        // Owned from here: killed however the test ends.
        let n = Self {
            dir,
            port,
            main_conf,
            conf_dir,
            child,
        };
        // Up once it answers.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(n);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    pub fn options(&self) -> dozor_collector::nginx::Options {
        dozor_collector::nginx::Options {
            mode: dozor_collector::nginx::Mode::Host,
            bin: binary().unwrap().into(),
            conf_dir: self.conf_dir.clone(),
            main_conf: Some(self.main_conf.clone()),
            http_port: self.port,
            https_port: 443,
        }
    }

    /// GET `path` with `Host: host`: status and body.
    pub async fn get(&self, host: &str, path: &str) -> (u16, String) {
        let r = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .header("host", host)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match r {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }
}

/// Enrols `name` (or reuses `key`) and runs an agent whose services go
/// to `nginx`, with the Docker pass every `interval`.
pub async fn start_agent(
    server: &dozor_server::Server,
    name: &str,
    interval: Duration,
    nginx: &Nginx,
    key: Option<String>,
) -> (Arc<Agent>, CancellationToken, String) {
    let client = ServerClient::new(&server.url()).unwrap();
    let root = fixture_root();
    let key = match key {
        Some(k) => k,
        None => {
            client
                .enroll(
                    &enroll_token(server),
                    name,
                    dozor_collector::inventory::read(&root),
                )
                .await
                .unwrap()
                .agent_key
        }
    };
    let input = HostInput::new(&root).with_ticks_per_second(100);
    let cfg = AgentConfig {
        interval,
        ..AgentConfig::default()
    };
    let agent = Agent::new(input, Arc::new(client.sink(&key)), cfg);
    let stop = CancellationToken::new();
    let policy = dozor_collector::docker::actions::Policy::Labelled;
    dozor_collector::docker::spawn(agent.clone(), interval, policy, stop.clone());
    let controller = dozor_collector::nginx::Controller::new(&nginx.options())
        .await
        .expect("nginx controller");
    dozor_collector::actors::spawn_with_nginx(&agent, policy, controller, &stop);
    tokio::spawn(agent.clone().run(stop.clone()));
    (agent, stop, key)
}
