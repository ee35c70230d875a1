//! The Docker Engine for the tests: the CLI, a busybox-static image built
//! `FROM scratch` (removed when the test ends), and a guard that removes a
//! test's labelled containers.

use super::missing;
use std::path::Path;
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

/// A test's own image, removed (untagged) when dropped. Declare it before
/// the test's [`Cleanup`], so its containers go first.
pub struct Image(pub String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.0]);
    }
}

/// Builds `dozor-test/NAME:PID` from Debian's busybox-static plus `files`
/// (path, text), with `tail` appended to `FROM scratch` +
/// `COPY busybox /bin/busybox`. The tag is this test process's, so tests
/// running at once never remove each other's. None (a skip, or a failure
/// when CI=true) without Docker or busybox.
pub fn busybox_image(name: &str, files: &[(&str, &str)], tail: &str) -> Option<Image> {
    if docker(&["info", "--format", "{{.ServerVersion}}"]).is_err() {
        missing("the Docker Engine");
        return None;
    }
    if !std::path::Path::new("/bin/busybox").exists() {
        missing("busybox-static (Debian package)");
        return None;
    }
    let tag = format!("dozor-test/{name}:{}", std::process::id());
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).unwrap();
    for (path, text) in files {
        let p = ctx.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let dockerfile = format!("FROM scratch\nCOPY busybox /bin/busybox\n{tail}");
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile).unwrap();
    docker(&["build", "-q", "-t", &tag, &ctx.path().display().to_string()])
        .expect("the image builds");
    Some(Image(tag))
}

/// A busybox image whose entrypoint is busybox itself.
pub fn busybox(name: &str) -> Option<Image> {
    busybox_image(name, &[], "ENTRYPOINT [\"/bin/busybox\"]\n")
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

/// A workspace binary (debug): the one the test run built, else built now.
pub fn workspace_binary(name: &str) -> String {
    // `cargo nextest run --workspace` (CI, scripts/test.sh) builds every
    // workspace binary beside this package's own. Asking cargo again from
    // inside a test rebuilt most of the tree mid-run (2-3 minutes, with
    // the test's environment, features or target selection differing from
    // the run's), so the built one is used when it is there.
    let built = Path::new(env!("CARGO_BIN_EXE_dozor-server")).with_file_name(name);
    if built.is_file() {
        return built.display().to_string();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        // The whole workspace, so features resolve as for the tests: building
        // one package alone would rebuild its dependencies with others.
        .args(["build", "--workspace", "--bin", name])
        .args(["--message-format", "json"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|m| m["executable"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("the {name} binary"))
}

/// Builds `dozor-<component>`'s image FROM scratch with scripts/image.sh
/// from the debug binary, tagged `tag`.
pub fn scratch_image(component: &str, tag: &str) {
    let built =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/image.sh"))
            .args([
                component,
                "--binary",
                &workspace_binary(&format!("dozor-{component}")),
                "--tag",
                tag,
            ])
            .output()
            .expect("scripts/image.sh runs");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

/// A container and an image, removed however the test ends.
pub struct Removed(pub String, pub String);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
        let _ = docker(&["rmi", "-f", &self.1]);
    }
}
