//! The certificates on this host, under the agent's nginx directory:
//! `certs/<service>/fullchain.pem` (0644), `key.pem` (0600, root's: only
//! nginx's master, which runs as root, reads it), and `track.json`, what
//! the agent remembers of its attempts across restarts. ACME accounts live
//! in `accounts/` (0600) and challenge answers under `acme/`, the only
//! part nginx serves.

use dozor_common::certs::inspect::{self, Info};
use dozor_common::services::tls::{self, Held};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Written beside the target with `mode`, then renamed over it: a reader
/// sees the old file or the new one, and a key is never readable by
/// others, not even for a moment.
fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("dozor-tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_mode(path, bytes, 0o600)
}

pub fn write_public(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_mode(path, bytes, 0o644)
}

#[derive(Debug, Clone)]
pub struct Store {
    /// The agent's nginx directory.
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: &str) -> Self {
        Self { dir: dir.into() }
    }

    pub fn accounts_dir(&self) -> PathBuf {
        self.dir.join("accounts")
    }

    pub fn acme_root(&self) -> PathBuf {
        self.dir.join(tls::ACME_ROOT)
    }

    fn service_dir(&self, service: &str) -> PathBuf {
        self.dir.join(tls::CERTS_DIR).join(service)
    }

    fn files(&self, service: &str) -> (PathBuf, PathBuf) {
        let (chain, key) = tls::paths(&self.dir.display().to_string(), service);
        (chain.into(), key.into())
    }

    /// Puts a chain and its key in place, the key first: nginx reads them
    /// only on a reload, which the caller does once both are there.
    pub fn put(&self, service: &str, chain_pem: &str, key_pem: &str) -> std::io::Result<()> {
        let d = self.service_dir(service);
        std::fs::create_dir_all(&d)?;
        let (chain, key) = self.files(service);
        write_private(&key, key_pem.as_bytes())?;
        write_public(&chain, chain_pem.as_bytes())
    }

    pub fn chain(&self, service: &str) -> Option<String> {
        std::fs::read_to_string(self.files(service).0).ok()
    }

    /// The certificate held for `service`, read from its file.
    pub fn info(&self, service: &str) -> Option<Info> {
        let (chain, key) = self.files(service);
        if !key.exists() {
            return None;
        }
        inspect::info(&std::fs::read_to_string(chain).ok()?).ok()
    }

    /// When its files were last written.
    pub fn written(&self, service: &str) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.files(service).0)
            .ok()?
            .modified()
            .ok()
    }

    /// Every service with a readable chain and a key: what nginx serves.
    pub fn held(&self) -> BTreeMap<String, Held> {
        self.services()
            .into_iter()
            .filter_map(|s| {
                let i = self.info(&s)?;
                Some((
                    s,
                    Held {
                        sans: i.sans,
                        ocsp: i.ocsp,
                    },
                ))
            })
            .collect()
    }

    /// Every service with a folder here.
    pub fn services(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.dir.join(tls::CERTS_DIR)) else {
            return Vec::new();
        };
        let mut out: Vec<String> = rd
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        out.sort();
        out
    }

    /// The certificate and key go; the track stays (it says "revoked").
    pub fn remove_files(&self, service: &str) {
        let (chain, key) = self.files(service);
        let _ = std::fs::remove_file(key);
        let _ = std::fs::remove_file(chain);
    }

    /// Everything of a service no longer wanted.
    pub fn forget(&self, service: &str) {
        let _ = std::fs::remove_dir_all(self.service_dir(service));
    }

    pub fn track<T: serde::de::DeserializeOwned + Default>(&self, service: &str) -> T {
        std::fs::read(self.service_dir(service).join("track.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save_track<T: serde::Serialize>(&self, service: &str, t: &T) {
        let path = self.service_dir(service).join("track.json");
        if let Ok(b) = serde_json::to_vec(t) {
            if let Err(e) = write_private(&path, &b) {
                tracing::warn!(service, error = %e, "cannot keep the certificate's track");
            }
        }
    }
}
