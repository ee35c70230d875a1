//! The Docker Engine for the tests: the CLI, a busybox-static image built
//! `FROM scratch`, and a guard that removes a test's labelled containers.

use super::missing;
use std::process::Command;

pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Builds `tag` from Debian's busybox-static plus `files` (path, text),
/// with `tail` appended to `FROM scratch` + `COPY busybox /bin/busybox`.
/// None (a skip, or a failure when CI=true) without Docker or busybox.
pub fn busybox_image(tag: &str, files: &[(&str, &str)], tail: &str) -> Option<()> {
    if docker(&["info", "--format", "{{.ServerVersion}}"]).is_err() {
        missing("the Docker Engine");
        return None;
    }
    if !std::path::Path::new("/bin/busybox").exists() {
        missing("busybox-static (Debian package)");
        return None;
    }
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).unwrap();
    for (path, text) in files {
        let p = ctx.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let dockerfile = format!("FROM scratch\nCOPY busybox /bin/busybox\n{tail}");
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile).unwrap();
    docker(&["build", "-q", "-t", tag, &ctx.path().display().to_string()])
        .expect("the image builds");
    Some(())
}

/// Removes every container labelled `dozor.test=<value>`, however the
/// test ends.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let filter = format!("label=dozor.test={}", self.0);
        if let Ok(ids) = docker(&["ps", "-aq", "--filter", &filter]) {
            for id in ids.lines() {
                let _ = docker(&["rm", "-f", id]);
            }
        }
    }
}
