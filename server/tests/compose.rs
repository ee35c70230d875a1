//! docker-compose.yml must be valid for the Compose tool on this machine.

use crate::support;

use std::process::Command;

#[test]
fn compose_file_passes_config() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // Compose v2 is `docker compose`; Debian 12 ships v1 as `docker-compose`.
    let attempts: [(&str, &[&str]); 2] = [
        ("docker", &["compose", "config"]),
        ("docker-compose", &["config"]),
    ];
    for (cmd, args) in attempts {
        let Ok(out) = Command::new(cmd).args(args).current_dir(root).output() else {
            continue;
        };
        if cmd == "docker"
            && !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("unknown")
        {
            continue;
        }
        assert!(
            out.status.success(),
            "{cmd} {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        for service in ["timescaledb", "dozor-server", "dozor-collector"] {
            assert!(
                text.contains(service),
                "{service} missing from the resolved config"
            );
        }
        return;
    }
    support::missing("docker compose or docker-compose");
}
