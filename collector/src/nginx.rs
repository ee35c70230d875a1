//! The host's nginx as dozor's data plane. The agent owns one include file
//! (`CONF_DIR/dozor.conf`, http context) and one directory
//! (`CONF_DIR/dozor/`, error pages), never anything else. It renders them
//! from the `services` section of the desired state and the containers
//! Docker reports, and converges whenever either changes: write, `nginx
//! -t`, reload; when nginx refuses, the last good files go back before
//! anything reloads, and nginx's message is reported with the generation.

pub mod args;
pub mod container;
pub mod driver;
pub mod files;
pub mod options;

pub use options::{Mode, Options};

use crate::agent::Agent;
use dozor_common::protection::ProtectionDoc;
use dozor_common::services::members::{members, Candidate};
use dozor_common::services::render::{render, Rendered, Settings};
use dozor_common::services::ServicesDoc;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// How a convergence that applied names the services it left out.
const LEFT_OUT: &str = "services left out: ";

/// Converges nginx; one convergence at a time.
pub struct Controller {
    info: dozor_common::services::NginxInfo,
    settings: Settings,
    files: files::Files,
    driver: Arc<dyn driver::Driver>,
    /// The access log's counts.
    pub traffic: Arc<crate::traffic::Traffic>,
    /// Docker networks nginx reaches the containers on (nginx in a
    /// container); empty on the host.
    reachable: Vec<String>,
    state: Mutex<State>,
    /// The last convergence failed: try again even without a change.
    failed: std::sync::atomic::AtomicBool,
    /// Containers being drained before removal: never a member.
    draining: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// When the agent started: see [`INVENTORY_GRACE`].
    started: std::time::Instant,
}

/// How long after the agent starts a convergence waits for the first
/// Docker listing. Before it, every container-backed service would be
/// rendered with no member and answer 503 (on each agent restart, and in
/// the autoscale test, from nginx's old workers after the next reload);
/// after it, a host whose Docker never answers still gets its
/// static-upstream services.
const INVENTORY_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Default)]
struct State {
    doc: Option<ServicesDoc>,
    /// What nginx runs now.
    live: Option<Rendered>,
    /// From the protection section; 0 before it arrives (403).
    deny_status: u16,
    /// The block list nginx has.
    geo: Option<String>,
}

impl Controller {
    /// None when the mode is off.
    pub async fn new(o: &Options) -> Result<Option<Arc<Self>>, String> {
        let (driver, reachable): (Arc<dyn driver::Driver>, Vec<String>) = match &o.mode {
            Mode::Off => return Ok(None),
            Mode::Host => (
                Arc::new(driver::Host {
                    bin: o.bin.clone(),
                    main_conf: o.main_conf.clone(),
                }),
                Vec::new(),
            ),
            Mode::Container(name) => (
                Arc::new(driver::Container { name: name.clone() }),
                container::container_networks(name).await?,
            ),
        };
        let own = o.conf_dir.join("dozor");
        let info = dozor_common::services::NginxInfo {
            mode: match &o.mode {
                Mode::Container(n) => format!("container:{n}"),
                _ => "host".into(),
            },
            http_port: o.http_port,
            https_port: o.https_port,
            dir: own.display().to_string().trim_end_matches('/').to_string(),
            status_port: (o.status_port != 0).then_some(o.status_port),
            real_ip_from: o.real_ip_from.clone(),
        };
        let settings = Settings::from_info(&info)?;
        // In a container nginx's loopback is its own: the agent reads
        // stub_status on the container's network address.
        let status_at = settings.status_port.map(|port| match &o.mode {
            Mode::Container(name) => crate::traffic::StatusAt::Container(name.clone(), port),
            _ => crate::traffic::StatusAt::Loopback(port),
        });
        let traffic =
            crate::traffic::Traffic::new(&settings.dir, status_at, o.log_max_bytes, driver.clone());
        traffic.sensor().guard.never_block(o.never_block.clone());
        Ok(Some(Arc::new(Self {
            info,
            settings,
            files: files::Files::new(&o.conf_dir),
            driver,
            traffic,
            reachable,
            state: Mutex::new(State::default()),
            failed: Default::default(),
            draining: Default::default(),
            started: std::time::Instant::now(),
        })))
    }

    /// What the agent announces to the server.
    pub fn info(&self) -> dozor_common::services::NginxInfo {
        self.info.clone()
    }

    /// The `services` section being served (None before the first).
    pub async fn services(&self) -> Option<ServicesDoc> {
        self.state.lock().await.doc.clone()
    }

    /// Where this host's nginx takes HTTP: loopback, or its container's
    /// address.
    pub async fn http_address(&self) -> Result<std::net::SocketAddr, String> {
        let ip = match self.info.mode.strip_prefix("container:") {
            Some(name) => container::container_ip(name).await?,
            None => std::net::Ipv4Addr::LOCALHOST.into(),
        };
        Ok(std::net::SocketAddr::new(ip, self.info.http_port))
    }

    /// A new `services` section: converge now and say how it went.
    pub async fn apply(&self, agent: &Agent, doc: ServicesDoc) -> Result<(), String> {
        let mut st = self.state.lock().await;
        st.doc = Some(doc);
        self.converge(agent, &mut st).await
    }

    /// The containers changed: upstreams follow.
    async fn follow(&self, agent: &Agent) -> Result<(), String> {
        let mut st = self.state.lock().await;
        if st.doc.is_none() {
            return Ok(());
        }
        self.converge(agent, &mut st).await
    }

    async fn converge(&self, agent: &Agent, st: &mut State) -> Result<(), String> {
        let from_containers = st.doc.as_ref().is_some_and(|d| {
            d.services
                .iter()
                .any(|s| s.enabled && s.static_upstreams.is_empty())
        });
        if from_containers
            && agent.containers.latest().is_none()
            && self.started.elapsed() < INVENTORY_GRACE
        {
            // The first listing rings `containers.changed`; the retry
            // covers a Docker that never answers.
            self.failed
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
        let r = self.converge_once(agent, st).await;
        self.failed
            .store(r.is_err(), std::sync::atomic::Ordering::Relaxed);
        r
    }

    async fn converge_once(&self, agent: &Agent, st: &mut State) -> Result<(), String> {
        let doc = st.doc.clone().unwrap_or_default();
        self.traffic.set_known(
            doc.services
                .iter()
                .filter(|s| s.enabled)
                .map(|s| s.name.clone()),
        );
        let listed = agent.containers.latest().unwrap_or_default();
        let containers: Vec<Candidate> = {
            let mut draining = self.draining.lock().expect("draining lock");
            // Forgotten once Docker no longer lists it.
            draining.retain(|name| listed.iter().any(|c| &c.name == name));
            listed
                .iter()
                .filter(|c| !draining.contains(&c.name))
                .map(|c| Candidate::from_info(c, &self.reachable))
                .collect()
        };
        let members: BTreeMap<_, _> = doc
            .services
            .iter()
            .map(|s| (s.name.clone(), members(s, &containers)))
            .collect();
        // A service about to answer 503 says why each member is out.
        for (name, m) in &members {
            if !m.is_empty() && !m.iter().any(|m| m.live()) {
                let why: Vec<String> = m
                    .iter()
                    .map(|m| {
                        let who = m.container.as_deref().unwrap_or(&m.address);
                        format!("{who}: {}", m.out.as_deref().unwrap_or(""))
                    })
                    .collect();
                tracing::warn!(service = %name, members = %why.join("; "), "no member takes traffic");
            }
        }
        let mut settings = self.settings.clone();
        // Read from disk each time: what nginx is about to be told to
        // load is what is there now.
        settings.tls = crate::certs::store::Store::new(&self.info.dir).held();
        if st.deny_status != 0 {
            settings.deny_status = st.deny_status;
        }
        let next = render(&doc, &members, &settings);
        // Said every time, applied or unchanged: a service left out stays
        // an error until it is fixed.
        let skipped: Vec<String> = next
            .skipped
            .iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect();
        let skipped = if skipped.is_empty() {
            Ok(())
        } else {
            Err(format!("{LEFT_OUT}{}", skipped.join("; ")))
        };
        if st.live.as_ref() == Some(&next) {
            return skipped;
        }
        self.files
            .put(&next, self.driver.as_ref())
            .await
            .map_err(|e| {
                format!("nginx refused the new config (the last good one still serves): {e}")
            })?;
        st.live = Some(next);
        tracing::info!("nginx config applied and reloaded");
        // The block list was written before the config included it.
        self.put_blocks(st).await?;
        skipped
    }

    /// Changes the certificates on disk (`f`) and has nginx follow, with
    /// no convergence in between: nginx never tests a half-written pair.
    pub async fn with_certs(
        &self,
        agent: &Agent,
        f: impl FnOnce() -> std::io::Result<()>,
    ) -> Result<(), String> {
        let mut st = self.state.lock().await;
        f().map_err(|e| format!("certificate files: {e}"))?;
        if st.doc.is_none() {
            return Ok(());
        }
        // A renewed certificate keeps its paths, so the config text may
        // not change; nginx reads certificate files only on a reload.
        st.live = None;
        match self.converge(agent, &mut st).await {
            // Applied; other services' own problems are not the
            // certificate's.
            Err(e) if e.starts_with(LEFT_OUT) => Ok(()),
            r => r,
        }
    }

    /// Takes a container out of every upstream now (a replica about to be
    /// removed); returns once nginx runs without it.
    pub async fn drain(&self, agent: &Agent, container: &str) -> Result<(), String> {
        self.draining
            .lock()
            .expect("draining lock")
            .insert(container.to_string());
        let mut st = self.state.lock().await;
        if st.doc.is_none() {
            return Ok(());
        }
        match self.converge(agent, &mut st).await {
            Err(e) if e.starts_with(LEFT_OUT) => Ok(()),
            r => r,
        }
    }

    /// A new `protection` section: checked again, handed to the rules,
    /// and nginx follows (the deny status is in the config).
    pub async fn protect(&self, agent: &Agent, doc: ProtectionDoc) -> Result<(), String> {
        if let Err(errors) = dozor_common::protection::check(&doc.settings) {
            let why: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            return Err(format!("protection settings refused: {}", why.join("; ")));
        }
        let mut st = self.state.lock().await;
        self.traffic.sensor().guard.configure(&doc);
        st.deny_status = doc.settings.deny_status;
        if st.doc.is_some() {
            self.converge(agent, &mut st).await?;
        }
        self.put_blocks(&mut st).await
    }

    /// nginx denies what is blocked now.
    pub async fn apply_blocks(&self) -> Result<(), String> {
        let mut st = self.state.lock().await;
        self.put_blocks(&mut st).await
    }

    async fn put_blocks(&self, st: &mut State) -> Result<(), String> {
        let denied = self.traffic.sensor().guard.denied(crate::agent::now_ms());
        let text = dozor_common::protection::render_geo(&denied);
        if st.geo.as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        // Before a config includes the list, writing it is enough.
        let reload = st.live.is_some();
        self.files
            .put_geo(&text, reload, self.driver.as_ref())
            .await
            .map_err(|e| format!("nginx refused the block list: {e}"))?;
        tracing::info!(addresses = denied.len(), "block list applied");
        st.geo = Some(text);
        Ok(())
    }
}

/// How soon a failed convergence is tried again without any change (nginx
/// was down, say).
const RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// Re-converges whenever a Docker pass finds the containers changed (and
/// every 30 s while failing); a failure is reported with the generation
/// applied, as a failed apply is.
pub fn spawn(agent: Arc<Agent>, controller: Arc<Controller>, shutdown: CancellationToken) {
    crate::traffic::spawn(agent.clone(), controller.traffic.clone(), shutdown.clone());
    crate::probes::spawn_service_probes(agent.clone(), controller.clone(), shutdown.clone());
    spawn_blocks(controller.clone(), shutdown.clone());
    tokio::spawn(async move {
        loop {
            // Also while Docker has not been listed yet: a convergence
            // waiting for it (INVENTORY_GRACE) is tried again.
            let failing = controller.failed.load(std::sync::atomic::Ordering::Relaxed)
                || agent.containers.latest().is_none();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = agent.containers.changed.notified() => {}
                _ = tokio::time::sleep(RETRY), if failing => {}
            }
            // Only the services part of the reported error is this loop's.
            let error = controller
                .follow(&agent)
                .await
                .err()
                .map(|e| format!("services: {}", e.replace('\n', " / ")));
            if let Some(e) = &error {
                tracing::warn!(error = %e, "nginx did not follow the containers");
            }
            let mut applied = agent.desired_applied();
            let others = applied
                .error
                .as_deref()
                .unwrap_or("")
                .lines()
                .filter(|part| !part.is_empty() && !part.starts_with("services: "))
                .map(str::to_string);
            let all: Vec<String> = others.chain(error).collect();
            let next = (!all.is_empty()).then(|| all.join("\n"));
            if applied.error != next {
                applied.error = next;
                agent.set_desired_applied(applied);
            }
        }
    });
}

/// nginx follows the blocks: at once when a rule fires, and every second
/// for expiries.
fn spawn_blocks(controller: Arc<Controller>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = controller.traffic.blocks_changed.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
            let dirty = controller
                .traffic
                .sensor()
                .guard
                .take_dirty(crate::agent::now_ms());
            if dirty {
                if let Err(e) = controller.apply_blocks().await {
                    tracing::warn!(error = %e, "blocks not applied");
                }
            }
        }
    });
}
