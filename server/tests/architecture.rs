//! Checks the "Invariant:" lines of ARCHITECTURE.md that are about code
//! layout, by reading the sources.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if !p.ends_with("target") && !p.ends_with("fixtures") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn only_the_storage_module_uses_sqlx() {
    let mut files = Vec::new();
    rust_files(&root().join("server/src"), &mut files);
    rust_files(&root().join("collector/src"), &mut files);
    rust_files(&root().join("common/src"), &mut files);
    rust_files(&root().join("promql/src"), &mut files);
    rust_files(&root().join("ui/src"), &mut files);
    let storage = root().join("server/src/storage");
    for f in files {
        if f.starts_with(&storage) || f == root().join("server/src/storage.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("sqlx::"),
            "{} uses sqlx outside storage",
            f.display()
        );
    }
}

#[test]
fn common_does_no_io_and_the_collector_has_no_database() {
    let common = std::fs::read_to_string(root().join("common/Cargo.toml")).unwrap();
    for dep in ["tokio", "sqlx", "reqwest", "axum"] {
        assert!(!common.contains(dep), "common depends on {dep}");
    }
    let collector = std::fs::read_to_string(root().join("collector/Cargo.toml")).unwrap();
    for dep in ["sqlx", "axum"] {
        assert!(!collector.contains(dep), "collector depends on {dep}");
    }
    // The query engine reads only through its Source trait.
    let promql = std::fs::read_to_string(root().join("promql/Cargo.toml")).unwrap();
    for dep in ["sqlx", "axum", "reqwest", "dozor-server"] {
        assert!(!promql.contains(dep), "promql depends on {dep}");
    }
    // The dashboard gets data only through its DataSource trait.
    let ui = std::fs::read_to_string(root().join("ui/Cargo.toml")).unwrap();
    for dep in ["sqlx", "axum", "tokio", "dozor-server"] {
        assert!(!ui.contains(dep), "ui depends on {dep}");
    }
}

#[test]
fn source_files_stay_small() {
    let mut files = Vec::new();
    for dir in [
        "server/src",
        "server/tests",
        "server/benches",
        "collector/src",
        "common/src",
        "promql/src",
        "promql/tests",
        "ui/src",
    ] {
        rust_files(&root().join(dir), &mut files);
    }
    for f in files {
        let lines = std::fs::read_to_string(&f).unwrap().lines().count();
        assert!(lines <= 420, "{} has {lines} lines; split it", f.display());
    }
}
