//! The agent's files in nginx's config directory: `dozor.conf` and the
//! `dozor/` directory. Each file is written beside its place and renamed
//! over it, so nginx never reads half a file. The include file is tested
//! in place and put back as it was when nginx refuses it, before anything
//! reloads; nginx reads config only when it starts or reloads, so the
//! refused file is never served.

use super::driver::Driver;
use dozor_common::services::render::Rendered;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub struct Files {
    conf: PathBuf,
    dir: PathBuf,
}

/// Written beside the target, then renamed over it. The suffix does not
/// end in `.conf`, so nginx's `include conf.d/*.conf` never reads it.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("dozor-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

impl Files {
    pub fn new(conf_dir: &Path) -> Self {
        Self {
            conf: conf_dir.join("dozor.conf"),
            dir: conf_dir.join("dozor"),
        }
    }

    /// Puts `next` in place, has nginx test it and reloads. On a refusal the
    /// previous include file is back in place and Err carries nginx's words.
    pub async fn put(&self, next: &Rendered, nginx: &dyn Driver) -> Result<(), String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        let previous = match std::fs::read_to_string(&self.conf) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&self.conf.display().to_string(), e)),
        };
        // nginx opens the access log when it tests the config, in a
        // directory that must exist.
        let logs = self.dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| io(&logs.display().to_string(), e))?;
        // The geo map includes the block list, which must exist.
        let geo = self.geo_path();
        if !geo.exists() {
            write_atomic(&geo, &dozor_common::protection::render_geo(&[]))
                .map_err(|e| io(&geo.display().to_string(), e))?;
        }
        // Pages first: the config about to be tested refers to them.
        for (rel, text) in &next.files {
            let path = self.dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| io(&parent.display().to_string(), e))?;
            }
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                write_atomic(&path, text).map_err(|e| io(&path.display().to_string(), e))?;
            }
        }
        write_atomic(&self.conf, &next.config)
            .map_err(|e| io(&self.conf.display().to_string(), e))?;
        if let Err(refused) = nginx.test().await {
            let restored = match &previous {
                Some(t) => write_atomic(&self.conf, t),
                None => std::fs::remove_file(&self.conf),
            };
            if let Err(e) = restored {
                return Err(format!(
                    "{refused} (and the previous {} could not be put back: {e})",
                    self.conf.display()
                ));
            }
            return Err(refused);
        }
        nginx.reload().await?;
        self.remove_stale(next);
        Ok(())
    }

    pub fn geo_path(&self) -> PathBuf {
        self.dir.join(dozor_common::services::render::BLOCKED_GEO)
    }

    /// Puts a new block list in place; with `reload`, has nginx test and
    /// load it, and puts the previous list back when it refuses.
    pub async fn put_geo(
        &self,
        text: &str,
        reload: bool,
        nginx: &dyn Driver,
    ) -> Result<(), String> {
        let path = self.geo_path();
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let previous = std::fs::read_to_string(&path).ok();
        write_atomic(&path, text).map_err(io)?;
        if !reload {
            return Ok(());
        }
        if let Err(refused) = nginx.test().await {
            if let Some(p) = previous {
                let _ = write_atomic(&path, &p);
            }
            return Err(refused);
        }
        nginx.reload().await
    }

    /// Error pages of services no longer rendered.
    fn remove_stale(&self, next: &Rendered) {
        let keep: BTreeSet<PathBuf> = next.files.keys().map(|r| self.dir.join(r)).collect();
        let errors = self.dir.join("errors");
        let Ok(services) = std::fs::read_dir(&errors) else {
            return;
        };
        for service in services.flatten() {
            let path = service.path();
            let Ok(pages) = std::fs::read_dir(&path) else {
                continue;
            };
            for page in pages.flatten() {
                if !keep.contains(&page.path()) {
                    let _ = std::fs::remove_file(page.path());
                }
            }
            // Only succeeds once it is empty.
            let _ = std::fs::remove_dir(&path);
        }
    }
}
