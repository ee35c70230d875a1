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
    /// Where dozor's config puts `stub_status`.
    pub status_port: u16,
    /// Where dozor's HTTPS server blocks listen.
    pub https_port: u16,
    child: std::process::Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn stop(child: &mut std::process::Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SIGTERM: the master takes its workers with it (a SIGKILLed
    // master leaves them running, holding the port and the test's
    // output pipe).
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

pub fn binary() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

pub fn free_port() -> u16 {
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
        let d = dir.path().to_path_buf();
        let d = d.as_path();
        let conf_dir = d.join("conf.d");
        std::fs::create_dir_all(&conf_dir).unwrap();
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        // Workers run as root: the test's directories are the test's own.
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        });
        let user = if root { "user root;" } else { "" };
        let main_conf = d.join("nginx.conf");
        let log = d.join("error.log");
        // A free port can be taken by a parallel test between asking and
        // nginx's bind: that attempt is retried on a new port.
        for _ in 0..5 {
            let port = free_port();
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
            std::fs::write(&main_conf, main).unwrap();
            let _ = std::fs::remove_file(&log);
            let mut child = std::process::Command::new(bin)
                .arg("-c")
                .arg(&main_conf)
                .arg("-p")
                .arg(d)
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("nginx starts");
            // Up once it answers while still running (an exited nginx
            // means the port answered for someone else).
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    // Owned from here: killed however the test ends.
                    return Some(Self {
                        dir,
                        port,
                        main_conf,
                        conf_dir,
                        status_port: free_port(),
                        https_port: free_port(),
                        child,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            stop(&mut child);
            let err = std::fs::read_to_string(&log).unwrap_or_default();
            if !err.contains("Address already in use") {
                panic!("nginx did not start: {err}");
            }
        }
        panic!("nginx did not start: its port was taken five times");
    }

    pub fn options(&self) -> dozor_collector::nginx::Options {
        dozor_collector::nginx::Options {
            mode: dozor_collector::nginx::Mode::Host,
            bin: binary().unwrap().into(),
            conf_dir: self.conf_dir.clone(),
            main_conf: Some(self.main_conf.clone()),
            http_port: self.port,
            https_port: self.https_port,
            status_port: self.status_port,
            ..Default::default()
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
    start_agent_with(server, name, interval, nginx.options(), key).await
}

/// [`start_agent`] with any nginx options (nginx in a container, say).
pub async fn start_agent_with(
    server: &dozor_server::Server,
    name: &str,
    interval: Duration,
    options: dozor_collector::nginx::Options,
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
    let controller = dozor_collector::nginx::Controller::new(&options)
        .await
        .expect("nginx controller");
    dozor_collector::actors::spawn_with_nginx(&agent, policy, controller, &stop);
    tokio::spawn(agent.clone().run(stop.clone()));
    (agent, stop, key)
}

/// Debian's nginx in an image built FROM scratch (the binary, the
/// libraries it links, the directories it expects), for `--nginx
/// container:NAME`; removed when dropped.
pub fn container_image(name: &str) -> Option<super::docker::Image> {
    let bin = binary()?;
    if super::docker::docker(&["info", "--format", "{{.ServerVersion}}"]).is_err() {
        missing("the Docker Engine");
        return None;
    }
    let tag = format!("dozor-test/{name}:{}", std::process::id());
    let ctx = tempfile::tempdir().unwrap();
    let root = ctx.path().join("root");
    let put = |path: &str| {
        let dest = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(path, dest).unwrap();
    };
    put(bin);
    let ldd = std::process::Command::new("ldd").arg(bin).output().unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        put(lib);
    }
    for dir in ["run", "tmp", "var/log/nginx", "var/lib/nginx", "etc/nginx"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY root/ /\nENV PATH=/usr/sbin:/bin\nCMD [\"nginx\", \"-g\", \"daemon off;\"]\n",
    )
    .unwrap();
    super::docker::docker(&["build", "-q", "-t", &tag, &ctx.path().display().to_string()])
        .expect("the nginx image builds");
    Some(super::docker::Image(tag))
}

/// The main config for nginx in a container: `conf_dir` (the same path
/// inside as outside, bind-mounted) included, listening on `port`.
pub fn container_main_conf(conf_dir: &Path, port: u16) -> String {
    format!(
        "user root;\nworker_processes 1;\npid /run/nginx.pid;\nerror_log stderr warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n    access_log off;\n    client_body_temp_path /tmp/body;\n    proxy_temp_path /tmp/proxy;\n\
         \x20   fastcgi_temp_path /tmp/fastcgi;\n    uwsgi_temp_path /tmp/uwsgi;\n    scgi_temp_path /tmp/scgi;\n\
         \x20   default_type text/plain;\n\
         \x20   server {{ listen {port} default_server; return 404; }}\n\
         \x20   include {}/*.conf;\n}}\n",
        conf_dir.display()
    )
}

/// Starts a busybox httpd container behind `service` (labelled with the
/// test's `run`, port 8080) whose index page says `replica NAME`.
pub fn replica(image: &str, run: &str, name: &str, service: &str) {
    let script = format!(
        "mkdir -p /www && echo 'replica {name}' > /www/index.html && exec httpd -f -p 8080 -h /www"
    );
    super::docker::docker(&[
        "run",
        "-d",
        "--label",
        &format!("dozor.test={run}"),
        "--label",
        &format!("dozor.service={service}"),
        "--label",
        "dozor.port=8080",
        "--name",
        name,
        image,
        "sh",
        "-c",
        &script,
    ])
    .expect("the replica starts");
}
