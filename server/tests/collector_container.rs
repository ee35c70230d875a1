//! The collector run in a container as README says (image from
//! `scripts/image.sh collector`, `-v /:/host:ro`, bridge networking) reports
//! the host: it enrols under the host's name, not the container's, and
//! its `node_network_*` series are the host's interfaces, not the
//! container's own `lo` and `eth0`. Against the real Engine.

use crate::support;

use std::collections::BTreeSet;
use std::process::Command;
use support::docker::{docker, scratch_image, Removed};
use support::*;

/// Interfaces in the host's network namespace (what node_exporter on the
/// host would list), read through PID 1.
fn host_interfaces() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/1/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| Some(l.split_once(':')?.0.trim().to_string()))
        .collect()
}

/// The host's address on Docker's default bridge: the IPAM gateway when
/// Docker records one, else docker0's own address.
fn bridge_gateway() -> String {
    let ipam = docker(&[
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
    ])
    .unwrap_or_default();
    if !ipam.is_empty() {
        return ipam;
    }
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", "docker0"])
        .output()
        .expect("ip (iproute2)");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .expect("docker0 has an IPv4 address")
        .to_string()
}

#[tokio::test]
async fn a_containerised_collector_reports_the_hosts_name_and_network() {
    if docker(&["info", "--format", "{{.ServerVersion}}"]).is_err() {
        missing("the Docker Engine");
        return;
    }
    let gateway = bridge_gateway();
    let dir = tempfile::tempdir().unwrap();
    // Reachable from the bridge, as a server on another machine would be.
    let server = spawn_server_with(&dir, None, |c| {
        c.listen = format!("{gateway}:0").parse().unwrap();
    })
    .await;
    let tag = format!("dozor-test/collector:{}", std::process::id());
    let name = format!("dz-collector-{}", std::process::id());
    let _removed = Removed(name.clone(), tag.clone());
    scratch_image("collector", &tag);
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        "/:/host:ro",
        "-e",
        &format!("DOZOR_SERVER=http://{}", server.addr),
        "-e",
        &format!("DOZOR_ENROLL_TOKEN={}", enroll_token(&server)),
        "-e",
        "DOZOR_INTERVAL=1s",
        "-e",
        "DOZOR_DOCKER_METRICS=false",
        "-e",
        "DOZOR_DOCKER_DISCOVERY=false",
        &tag,
    ])
    .expect("the collector container starts");

    let expected_name = std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap()
                .trim()
                .to_string()
        });
    let container_hostname = docker(&["inspect", "-f", "{{.Config.Hostname}}", &name]).unwrap();
    assert_ne!(expected_name, container_hostname);
    let store = server.store.clone();
    let agent = eventually(60, || {
        let store = store.clone();
        async move {
            let agents = store.list_agents().await.ok()?;
            agents.into_iter().find(|a| a.kind == "remote")
        }
    })
    .await;
    assert_eq!(
        agent.name, expected_name,
        "the host's name, not the container's"
    );

    let want = host_interfaces();
    let got: BTreeSet<String> = eventually(60, || {
        let store = store.clone();
        let host = agent.name.clone();
        async move {
            let equal = [("host".to_string(), host)].into();
            let series = store
                .find_series(Some("node_network_receive_bytes_total"), &equal, 1000)
                .await
                .ok()?;
            let devices: BTreeSet<String> = series
                .into_iter()
                .map(|s| s.labels["device"].clone())
                .collect();
            (!devices.is_empty()).then_some(devices)
        }
    })
    .await;
    // The host's namespace has docker0 (and usually more); the container's
    // has only lo and eth0.
    assert!(got.contains("docker0"), "{got:?}");
    assert!(
        got.iter().all(|d| want.contains(d)),
        "every reported device is the host's: {got:?} vs {want:?}"
    );
    server.shutdown().await;
}
