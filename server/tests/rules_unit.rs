//! `dozor-server rules test` against the real promtool (Debian's
//! `prometheus`): the same promtool-format unit-test file passes in both,
//! and a file with one wrong expectation fails in both.

mod support;

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
    let Ok(p) = Command::new("promtool")
        .args(["test", "rules"])
        .arg(dir().join("host_test.yml"))
        .output()
    else {
        support::missing("promtool (Debian package prometheus)");
        return;
    };
    assert!(
        p.status.success(),
        "promtool disagrees: {}",
        String::from_utf8_lossy(&p.stdout)
    );
    let p = Command::new("promtool")
        .args(["test", "rules"])
        .arg(dir().join("host_test_wrong.yml"))
        .output()
        .unwrap();
    assert!(!p.status.success(), "promtool must fail the wrong file too");
}

/// The container presets' expressions fire and clear where promtool says.
#[test]
fn container_rules_agree_with_promtool() {
    let (ok, text) = dozor("containers_test.yml");
    assert!(ok && text.contains("SUCCESS"), "{text}");
    let Ok(p) = Command::new("promtool")
        .args(["test", "rules"])
        .arg(dir().join("containers_test.yml"))
        .output()
    else {
        support::missing("promtool (Debian package prometheus)");
        return;
    };
    assert!(
        p.status.success(),
        "promtool disagrees: {}",
        String::from_utf8_lossy(&p.stdout)
    );
}
