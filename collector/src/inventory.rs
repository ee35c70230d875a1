//! Host facts for the agents page: read from the same root as the metrics,
//! so a containerised collector describes the host.

use dozor_common::protocol::HostInventory;
use std::path::Path;

pub fn read(root: &Path) -> HostInventory {
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap_or_default();
    let hostname = hostname(root);
    let kernel = read("proc/sys/kernel/osrelease").trim().to_string();
    let os = os_release_name(&read("etc/os-release"));
    let cpuinfo = read("proc/cpuinfo");
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let cpu_cores = cpuinfo
        .lines()
        .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
        .count() as u32;
    let memory_bytes = read("proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_ascii_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_default();
    let boot_time = read("proc/stat")
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_default();
    HostInventory {
        hostname,
        os,
        kernel,
        cpu_model,
        cpu_cores,
        memory_bytes,
        boot_time,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// The host's name. `ROOT/proc/sys/kernel/hostname` answers for the UTS
/// namespace of the process reading it, so in a container it is the
/// container's name; with the host mounted at ROOT, the host's configured
/// name in `ROOT/etc/hostname` is the host's. On the host itself (ROOT is
/// `/`) the kernel's is right and always present.
pub fn hostname(root: &Path) -> String {
    let read = |rel: &str| {
        std::fs::read_to_string(root.join(rel))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let kernel = read("proc/sys/kernel/hostname");
    if root == Path::new("/") {
        return kernel;
    }
    let configured = read("etc/hostname");
    // A valid host name is one short token; anything else is not one.
    if !configured.is_empty()
        && configured.len() <= 253
        && !configured.contains(char::is_whitespace)
    {
        configured
    } else {
        kernel
    }
}

fn os_release_name(text: &str) -> String {
    let field = |key: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
        })
    };
    field("PRETTY_NAME")
        .or_else(|| field("NAME"))
        .unwrap_or_else(|| "Linux".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixture_inventory() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/host"));
        let inv = read(root);
        assert_eq!(inv.hostname, "fixture-host");
        assert_eq!(inv.cpu_model, "AMD EPYC");
        assert_eq!(inv.cpu_cores, 2);
        assert_eq!(inv.memory_bytes, 24_684_084 * 1024);
        assert_eq!(inv.boot_time, 1_795_328_366);
        assert!(inv.os.starts_with("Debian"), "{}", inv.os);
        assert!(!inv.kernel.is_empty());
    }

    #[test]
    fn a_mounted_hosts_name_comes_from_its_etc_hostname() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // What the reading process sees: its container's UTS name.
        std::fs::write(root.join("proc/sys/kernel/hostname"), "3f2a9c0e1b7d\n").unwrap();
        assert_eq!(hostname(root), "3f2a9c0e1b7d", "no better name known");
        std::fs::write(root.join("etc/hostname"), "web-1\n").unwrap();
        assert_eq!(hostname(root), "web-1");
        std::fs::write(root.join("etc/hostname"), "not a name\n").unwrap();
        assert_eq!(hostname(root), "3f2a9c0e1b7d");
    }
}
