//! The built-in alert rules (server/rules/builtin.yml): promtool accepts
//! the file and passes its unit tests, dozor's own `rules test` passes the
//! same tests, every rule has a case where it fires, and the changes a
//! user makes on the Rules page (disable, edit, reset) are kept across a
//! restart on SQLite and PostgreSQL.

use crate::support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use support::web::get;
use support::web::post_form as post;
use support::*;

fn rules_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"))
}

fn run(cmd: &mut Command) -> Option<(bool, String)> {
    let out = cmd.output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), text))
}

#[test]
fn promtool_checks_and_tests_the_builtin_rules() {
    let Some((ok, text)) = run(Command::new("promtool")
        .args(["check", "rules"])
        .arg(rules_dir().join("builtin.yml")))
    else {
        support::missing("promtool (Debian package prometheus)");
        return;
    };
    assert!(ok, "promtool check rules: {text}");
    assert!(text.contains("SUCCESS: 15 rules found"), "{text}");
    let (ok, text) = run(Command::new("promtool")
        .args(["test", "rules"])
        .arg(rules_dir().join("builtin_test.yml")))
    .unwrap();
    assert!(ok, "promtool test rules: {text}");
}

#[test]
fn dozor_passes_the_same_unit_tests() {
    let (ok, text) = run(Command::new(env!("CARGO_BIN_EXE_dozor-server"))
        .args(["rules", "test"])
        .arg(rules_dir().join("builtin_test.yml")))
    .unwrap();
    assert!(ok && text.contains("SUCCESS"), "{text}");
}

/// Each built-in rule has a case where it fires (and the file's rules are
/// exactly the ones dozor ships).
#[test]
fn every_builtin_rule_has_a_firing_case() {
    let tests: Value = serde_yaml::from_str(
        &std::fs::read_to_string(rules_dir().join("builtin_test.yml")).unwrap(),
    )
    .unwrap();
    let mut firing = std::collections::BTreeSet::new();
    for group in tests["tests"].as_array().unwrap() {
        for case in group["alert_rule_test"].as_array().unwrap() {
            if case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()) {
                firing.insert(case["alertname"].as_str().unwrap().to_string());
            }
        }
    }
    let shipped: std::collections::BTreeSet<String> = dozor_server::alerting::builtin::defaults()
        .into_iter()
        .map(|b| b.form.name)
        .collect();
    assert_eq!(shipped.len(), 15);
    assert_eq!(
        firing, shipped,
        "rules without a firing case, or cases for no rule"
    );
}

/// The running rules, as the Prometheus rules API lists them: name → for
/// (seconds).
async fn running(server: &dozor_server::Server) -> std::collections::BTreeMap<String, i64> {
    let http = api_client(server).await;
    let v: Value = http
        .get(format!("{}/prometheus/api/v1/rules", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for g in v["data"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            out.insert(
                r["name"].as_str().unwrap().to_string(),
                r["duration"].as_i64().unwrap_or(0),
            );
        }
    }
    out
}

fn with_builtins(c: &mut dozor_server::config::Config) {
    c.alerting.builtin_rules = true;
}

async fn changes_survive_a_restart(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, database_url, with_builtins).await;
    let base = server.url();
    let admin = web_session(&server).await;
    let before = running(&server).await;
    assert_eq!(before.len(), 15, "{before:?}");
    assert_eq!(before["ScrapeTargetDown"], 120);

    let (status, page) = post(
        &base,
        &admin,
        "/rules/builtin",
        &[("name", "ScrapeTargetDown"), ("action", "disable")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Built-in rule ScrapeTargetDown turned off."),
        "{page}"
    );
    let host_down = dozor_server::alerting::builtin::find("HostDown")
        .unwrap()
        .form;
    let (_, page) = post(
        &base,
        &admin,
        "/rules/save",
        &[
            ("builtin", "HostDown"),
            ("name", "HostDown"),
            ("expr", &host_down.expr),
            ("for", "3m"),
            ("severity", "critical"),
            ("summary", "{{ $labels.host }} is silent"),
        ],
    )
    .await;
    assert!(page.contains("Rule HostDown saved"), "{page}");
    // A rule made in the UI may not take a built-in's name.
    let (_, page) = post(
        &base,
        &admin,
        "/rules/save",
        &[
            ("original", ""),
            ("name", "HostMemoryAlmostFull"),
            ("expr", "up == 0"),
        ],
    )
    .await;
    assert!(
        page.contains("HostMemoryAlmostFull is a built-in rule"),
        "{page}"
    );
    // A bad edit is refused with the field named, and nothing changes.
    let (_, page) = post(
        &base,
        &admin,
        "/rules/save",
        &[
            ("builtin", "HostCpuSaturated"),
            ("name", "HostCpuSaturated"),
            ("expr", "rate(x[5m]"),
        ],
    )
    .await;
    assert!(
        page.contains("field-error") && page.contains("expr:"),
        "{page}"
    );
    // Hostile edits: a query nested past the budget, an unknown action,
    // and markup in the name are refused or shown as text.
    let deep = format!("{}up{}", "abs(".repeat(400), ")".repeat(400));
    let (_, page) = post(
        &base,
        &admin,
        "/rules/save",
        &[
            ("builtin", "HostCpuSaturated"),
            ("name", "HostCpuSaturated"),
            ("expr", &deep),
        ],
    )
    .await;
    assert!(
        page.contains("field-error") && page.contains("expr:"),
        "deep refused"
    );
    let (status, _) = post(
        &base,
        &admin,
        "/rules/builtin",
        &[("name", "HostDown"), ("action", "explode")],
    )
    .await;
    assert_eq!(status, 400);
    let (_, page) = post(
        &base,
        &admin,
        "/rules/builtin",
        &[("name", "<script>x</script>"), ("action", "disable")],
    )
    .await;
    assert!(
        page.contains("&lt;script&gt;") && !page.contains("<script>x"),
        "escaped"
    );
    server.shutdown().await;

    // Restarted (as after an upgrade): the changes hold.
    let server = spawn_server_with(&dir, database_url, with_builtins).await;
    let base = server.url();
    let admin = web_session(&server).await;
    let after = running(&server).await;
    assert!(
        !after.contains_key("ScrapeTargetDown"),
        "still off: {after:?}"
    );
    assert_eq!(after["HostDown"], 180, "still edited");
    assert_eq!(
        after["HostCpuSaturated"], 900,
        "the refused edit left it alone"
    );
    let page = get(&base, "/rules", &admin).await.text().await.unwrap();
    assert!(page.contains("built-in, edited by admin"), "{page}");
    assert!(page.contains("14 of 15 built-in rules are on"), "{page}");

    // Reset and enable: back to the shipped rules, and nothing stored.
    post(
        &base,
        &admin,
        "/rules/builtin",
        &[("name", "HostDown"), ("action", "reset")],
    )
    .await;
    post(
        &base,
        &admin,
        "/rules/builtin",
        &[("name", "ScrapeTargetDown"), ("action", "enable")],
    )
    .await;
    assert_eq!(running(&server).await, before);
    assert!(server.store.builtin_overrides().await.unwrap().is_empty());
    let (_, page) = post(
        &base,
        &admin,
        "/rules/builtin",
        &[("name", "NoSuchRule"), ("action", "disable")],
    )
    .await;
    assert!(page.contains("There is no built-in rule called"), "{page}");
    server.shutdown().await;
}

#[tokio::test]
async fn changes_survive_a_restart_on_sqlite() {
    changes_survive_a_restart(None).await;
}

#[tokio::test]
async fn changes_survive_a_restart_on_postgres() {
    let Some(db) = pg_database().await else {
        return;
    };
    changes_survive_a_restart(Some(&db.url)).await;
}
