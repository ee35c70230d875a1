//! nginx in a container: where the agent reaches it and which networks
//! it reaches the services' containers on (looked up each time: both
//! change when the container is recreated).

/// nginx's container's address on its first network (looked up each
/// time: it changes when the container is recreated).
pub async fn container_ip(name: &str) -> Result<std::net::IpAddr, String> {
    let docker = crate::docker::connect().await?;
    let i = docker
        .inspect_container(name, None)
        .await
        .map_err(|e| format!("nginx container {name}: {e}"))?;
    i.network_settings
        .and_then(|n| n.networks)
        .into_iter()
        .flat_map(|m| m.into_values())
        .filter_map(|n| n.ip_address)
        .find_map(|ip| ip.parse().ok())
        .ok_or_else(|| format!("nginx container {name} has no network address"))
}

/// The networks of nginx's container.
pub async fn container_networks(name: &str) -> Result<Vec<String>, String> {
    let docker = crate::docker::connect().await?;
    let i = docker
        .inspect_container(name, None)
        .await
        .map_err(|e| format!("nginx container {name}: {e}"))?;
    let mut nets: Vec<String> = i
        .network_settings
        .and_then(|n| n.networks)
        .map(|m| m.into_keys().collect())
        .unwrap_or_default();
    nets.sort();
    Ok(nets)
}
