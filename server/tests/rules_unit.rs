//! `dozor-server rules test` against the real promtool (Debian's
//! `prometheus`): the same promtool-format unit-test file passes in both,
//! and a file with one wrong expectation fails in both.

use crate::support;

use std::process::Command;

fn dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules"))
}

fn dozor(file: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dozor-server"))
        .args(["rules", "test"])
        .arg(dir().join(file))
        .output()
        .expect("run dozor-server");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// `promtool test rules FILE`: (passed, stdout); None (a skip, or a
/// failure when CI=true) without promtool.
fn promtool(file: &str) -> Option<(bool, String)> {
    let Ok(p) = Command::new("promtool")
        .args(["test", "rules"])
        .arg(dir().join(file))
        .output()
    else {
        support::missing("promtool (Debian package prometheus)");
        return None;
    };
    Some((
        p.status.success(),
        String::from_utf8_lossy(&p.stdout).into_owned(),
    ))
}

#[test]
fn rule_unit_tests_agree_with_promtool() {
    let (ok, text) = dozor("host_test.yml");
    assert!(ok, "{text}");
    assert!(text.contains("SUCCESS"));
    let (ok, text) = dozor("host_test_wrong.yml");
    assert!(!ok);
    assert!(
        text.contains("alert HighCpu at 4m") && text.contains("CPU on web-1 at 90%"),
        "names the failing case and what it got: {text}"
    );
    let Some((ok, out)) = promtool("host_test.yml") else {
        return;
    };
    assert!(ok, "promtool disagrees: {out}");
    let (ok, _) = promtool("host_test_wrong.yml").unwrap();
    assert!(!ok, "promtool must fail the wrong file too");
}

/// The container presets' expressions fire and clear where promtool says.
#[test]
fn container_rules_agree_with_promtool() {
    let (ok, text) = dozor("containers_test.yml");
    assert!(ok && text.contains("SUCCESS"), "{text}");
    let Some((ok, out)) = promtool("containers_test.yml") else {
        return;
    };
    assert!(ok, "promtool disagrees: {out}");
}
