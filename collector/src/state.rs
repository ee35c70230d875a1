//! The agent's identity on disk: `STATE_DIR/agent.json`, mode 0600, written
//! atomically so a crash mid-write never leaves a half key.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    pub server: String,
    pub agent_id: i64,
    pub name: String,
    pub agent_key: String,
}

/// Never prints the key.
impl std::fmt::Debug for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentState")
            .field("server", &self.server)
            .field("agent_id", &self.agent_id)
            .field("name", &self.name)
            .field("agent_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot use state dir {dir}: {source} (set --state-dir to a writable directory)")]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is corrupt ({source}); delete it and enrol again with --enroll-token")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub fn state_file(dir: &Path) -> PathBuf {
    dir.join("agent.json")
}

pub fn load(dir: &Path) -> Result<Option<AgentState>, StateError> {
    let path = state_file(dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StateError::Corrupt { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Read { path, source }),
    }
}

pub fn save(dir: &Path, state: &AgentState) -> Result<(), StateError> {
    let json = serde_json::to_vec_pretty(state).expect("state serialises");
    write_private(dir, "agent.json", &json).map_err(|source| StateError::Dir {
        dir: dir.to_path_buf(),
        source,
    })
}

/// Writes `dir/name` atomically (temp file, fsync, rename) with mode 0600,
/// creating `dir` with mode 0700. Secrets must never be world-readable,
/// not even for the instant between create and chmod.
pub fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_with_private_permissions_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("state");
        assert_eq!(load(&sub).unwrap(), None);
        let st = AgentState {
            server: "http://x".into(),
            agent_id: 7,
            name: "web-1".into(),
            agent_key: "dzk_secret".into(),
        };
        assert!(
            !format!("{st:?}").contains("dzk_secret"),
            "Debug redacts the key"
        );
        save(&sub, &st).unwrap();
        assert_eq!(load(&sub).unwrap(), Some(st));
        let mode = std::fs::metadata(state_file(&sub))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(state_file(&sub), b"{not json").unwrap();
        assert!(load(&sub).unwrap_err().to_string().contains("corrupt"));
    }
}
