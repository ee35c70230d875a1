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

fn sources_under(dir: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&root().join(dir), &mut files);
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .collect()
}

#[test]
fn nothing_below_http_imports_http() {
    // Storage, the engine, alerting, operations, tasks, desired state and
    // the clock know nothing of the web layer; only the startup code above
    // everything (app.rs, main.rs, lib.rs) wires it up.
    let src = root().join("server/src");
    for (f, text) in sources_under("server/src") {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().to_string();
        if rel.starts_with("http") || ["app.rs", "main.rs", "lib.rs"].contains(&rel.as_str()) {
            continue;
        }
        assert!(!text.contains("crate::http"), "{rel} imports http");
    }
    let promql = std::fs::read_to_string(root().join("promql/Cargo.toml")).unwrap();
    assert!(!promql.contains("axum"));
}

#[test]
fn front_ends_change_state_only_through_operations() {
    // Writes to storage and the audit log happen in `ops/` (and ingest,
    // maintenance, alerting's engine); the dashboard's handlers, the API,
    // the bot and the CLI call operations. Sign-in keeps its own session
    // rows (http/auth).
    let writes = [
        ".store.create_",
        ".store.update_",
        ".store.delete_",
        ".store.revoke_",
        ".store.save_",
        ".store.expire_",
        ".store.audit(",
        ".store.accept_",
        ".store.redeem_",
        ".store.unlink_",
        ".store.enqueue_task",
        "store.create_silence",
        "store.record_history",
    ];
    let mut front_ends = sources_under("server/src/http");
    front_ends.extend(
        sources_under("server/src/alerting")
            .into_iter()
            .filter(|(f, _)| f.ends_with("bot.rs")),
    );
    front_ends.push((
        root().join("server/src/main.rs"),
        std::fs::read_to_string(root().join("server/src/main.rs")).unwrap(),
    ));
    for (f, text) in front_ends {
        if f.components().any(|c| c.as_os_str() == "auth") {
            continue;
        }
        for w in writes {
            assert!(!text.contains(w), "{} writes directly ({w})", f.display());
        }
    }
}

#[test]
fn password_hashing_never_runs_on_async_threads() {
    for dir in ["server/src/http", "server/src/ops"] {
        for (f, text) in sources_under(dir) {
            for sync in [
                "password::hash(",
                "password::verify(",
                "password::verify_dummy(",
            ] {
                assert!(!text.contains(sync), "{} calls {sync}", f.display());
            }
        }
    }
}

#[test]
fn no_macro_rules_in_product_code() {
    // Shared code is ordinary generic code rustfmt can format; macros
    // that stamp out copies (one per backend, one per handler) hide them.
    for dir in [
        "server/src",
        "collector/src",
        "common/src",
        "promql/src",
        "ui/src",
    ] {
        for (f, text) in sources_under(dir) {
            assert!(
                !text.contains("macro_rules!"),
                "{} defines a macro",
                f.display()
            );
        }
    }
}
