//! Replicas for autoscaling: hold N running containers of a service.
//! Scaling up clones the template (the container the policy names, or the
//! oldest labelled `dozor.service=<name>`): same image, command,
//! environment, labels, networks, volumes, restart policy and resource
//! limits, under a new name, without published host ports (replicas are
//! reached over the container network) and labelled `dozor.replica`.
//! Scaling down takes the newest clone out of nginx first, waits the
//! drain period for its requests to finish, then stops and removes it.
//! Only clones are ever removed; the template never is. A container that
//! Compose manages is cloned with Compose's own labels and the next
//! container number, so `docker compose ps` lists the replicas.

use super::actions::Policy;
use bollard::models::{ContainerCreateBody, EndpointSettings, NetworkingConfig};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StartContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use dozor_common::autoscale::{Scale, Scaled, REPLICA_LABEL};
use dozor_common::services::SERVICE_LABEL;
use dozor_common::tasks::TaskError;
use std::collections::HashMap;
use std::time::Duration;

const COMPOSE_NUMBER: &str = "com.docker.compose.container-number";
const COMPOSE_PROJECT: &str = "com.docker.compose.project";
const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// A service's containers as Docker lists them.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    created: i64,
    running: bool,
    replica: bool,
    labels: HashMap<String, String>,
}

async fn members(docker: &Docker, service: &str) -> Result<Vec<Member>, TaskError> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{SERVICE_LABEL}={service}")],
    )]);
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| TaskError::Failed(format!("cannot list containers: {e}")))?;
    let mut out: Vec<Member> = list
        .into_iter()
        .filter_map(|c| {
            let labels = c.labels.unwrap_or_default();
            Some(Member {
                name: c.names?.first()?.trim_start_matches('/').to_string(),
                created: c.created.unwrap_or(0),
                running: c.state.map(|s| s.to_string()).as_deref() == Some("running"),
                replica: labels.get(REPLICA_LABEL).map(String::as_str) == Some(service),
                labels,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
    Ok(out)
}

/// Holds `req.replicas` running containers of the service. `drain` takes
/// a container out of nginx's upstreams (and waits for the reload)
/// before it is stopped.
pub async fn scale<D, F>(
    docker: &Docker,
    req: &Scale,
    policy: Policy,
    drain: D,
) -> Result<Scaled, TaskError>
where
    D: Fn(String) -> F,
    F: std::future::Future<Output = ()>,
{
    dozor_common::services::validate::name(&req.service).map_err(TaskError::Invalid)?;
    if req.replicas > 100 {
        return Err(TaskError::Invalid("at most 100 replicas".into()));
    }
    let all = members(docker, &req.service).await?;
    let template = match &req.template {
        Some(t) => all.iter().find(|m| &m.name == t),
        None => all.iter().find(|m| !m.replica),
    }
    .ok_or_else(|| {
        TaskError::Gone(match &req.template {
            Some(t) => format!("the template container {t} is gone"),
            None => format!(
                "no container labelled {SERVICE_LABEL}={} to clone",
                req.service
            ),
        })
    })?;
    if let Some(why) = policy.refusal(&template.name, &template.labels) {
        return Err(TaskError::Refused(why));
    }
    let running: Vec<&Member> = all.iter().filter(|m| m.running).collect();
    let before = running.len() as u32;
    let mut out = Scaled {
        before,
        after: before,
        ..Default::default()
    };
    if before < req.replicas {
        let mut number = all
            .iter()
            .filter_map(|m| m.labels.get(COMPOSE_NUMBER)?.parse::<u32>().ok())
            .max()
            .unwrap_or(1);
        for _ in before..req.replicas {
            number += 1;
            let name = clone(docker, &template.name, &req.service, number).await?;
            out.created.push(name);
            out.after += 1;
        }
    } else if before > req.replicas {
        // Newest first; only dozor's own clones, never the template.
        let removable: Vec<&&Member> = running
            .iter()
            .rev()
            .filter(|m| m.replica && m.name != template.name)
            .take((before - req.replicas) as usize)
            .collect();
        for m in removable {
            drain(m.name.clone()).await;
            tokio::time::sleep(Duration::from_secs(u64::from(req.drain_s))).await;
            remove(docker, &m.name).await?;
            out.removed.push(m.name.clone());
            out.after -= 1;
        }
    }
    Ok(out)
}

/// Creates and starts a clone of `template`; its name.
async fn clone(
    docker: &Docker,
    template: &str,
    service: &str,
    number: u32,
) -> Result<String, TaskError> {
    let t = docker
        .inspect_container(template, None::<InspectContainerOptions>)
        .await
        .map_err(|e| TaskError::Gone(format!("the template container {template}: {e}")))?;
    let config = t
        .config
        .ok_or_else(|| TaskError::Failed(format!("{template} has no config")))?;
    // Docker's own field names on both sides: the template's config is
    // the new container's, less what names one container.
    let mut body: ContainerCreateBody = serde_json::to_value(&config)
        .and_then(serde_json::from_value)
        .map_err(|e| TaskError::Failed(format!("cannot copy {template}'s config: {e}")))?;
    body.hostname = None;
    body.domainname = None;
    let mut labels = config.labels.unwrap_or_default();
    labels.insert(REPLICA_LABEL.into(), service.into());
    let compose = labels
        .get(COMPOSE_PROJECT)
        .cloned()
        .zip(labels.get(COMPOSE_SERVICE).cloned());
    let name = match &compose {
        Some((project, svc)) => {
            labels.insert(COMPOSE_NUMBER.into(), number.to_string());
            format!("{project}-{svc}-{number}")
        }
        None => format!("{template}-r{:06x}", rand::random::<u32>() & 0xff_ffff),
    };
    body.labels = Some(labels);
    let mut host = t.host_config.unwrap_or_default();
    // Replicas are reached over the network: a host port would clash.
    host.port_bindings = None;
    host.publish_all_ports = Some(false);
    body.host_config = Some(host);
    // Docker lists a container's short id among its aliases; that one is
    // the template's own.
    let own_alias: String = t.id.as_deref().unwrap_or("").chars().take(12).collect();
    let networks: HashMap<String, EndpointSettings> = t
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(net, e)| {
            (
                net,
                EndpointSettings {
                    aliases: e
                        .aliases
                        .map(|a| a.into_iter().filter(|x| *x != own_alias).collect()),
                    ..Default::default()
                },
            )
        })
        .collect();
    body.networking_config = Some(NetworkingConfig {
        endpoints_config: Some(networks),
    });
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            body,
        )
        .await
        .map_err(|e| TaskError::Failed(format!("cannot create {name}: {e}")))?;
    if let Err(e) = docker
        .start_container(&name, None::<StartContainerOptions>)
        .await
    {
        let _ = remove(docker, &name).await;
        return Err(TaskError::Failed(format!("{name} did not start: {e}")));
    }
    Ok(name)
}

async fn remove(docker: &Docker, name: &str) -> Result<(), TaskError> {
    let _ = docker
        .stop_container(
            name,
            Some(StopContainerOptions {
                t: Some(10),
                ..Default::default()
            }),
        )
        .await;
    docker
        .remove_container(
            name,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| TaskError::Failed(format!("cannot remove {name}: {e}")))
}
