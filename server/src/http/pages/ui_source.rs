//! The dashboard's [`DataSource`]: PromQL through the one engine, label
//! values through the series API, agents from the catalog. Label values
//! are cached briefly: pickers and autocomplete ask on every page view.

use super::{AppState, ONLINE_WINDOW_MS};
use crate::promql::{Range, Value};
use crate::query_cache::{merge, Plan};
use async_trait::async_trait;
use dozor_ui::pages::host::inventory_facts;
use dozor_ui::{AgentInfo, ContainerRow, DataSource, InstantData, QueryFailed, SeriesData};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const LABEL_CACHE_TTL: Duration = Duration::from_secs(30);

/// (label, selector) → when fetched, values.
type LabelKey = (String, Option<String>);

#[derive(Default)]
pub struct LabelCache(Mutex<HashMap<LabelKey, (Instant, Vec<String>)>>);

pub struct Source {
    pub state: AppState,
}

impl Source {
    async fn range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<SeriesData>, QueryFailed> {
        let r = Range {
            start_ms,
            end_ms,
            step_ms,
        };
        match self.state.0.engine.range(query, r).await {
            Ok(Value::Matrix(m)) => Ok(m
                .into_iter()
                .map(|s| SeriesData {
                    labels: s.metric.into_map(),
                    points: s.points,
                })
                .collect()),
            Ok(other) => Err(QueryFailed(format!(
                "unexpected {} result",
                other.type_name()
            ))),
            Err(e) => Err(QueryFailed(e.to_string())),
        }
    }
}

#[async_trait]
impl DataSource for Source {
    async fn query_range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<SeriesData>, QueryFailed> {
        let cache = &self.state.0.ui.ranges;
        let now = self.now_ms();
        let result = match cache.plan(query, start_ms, end_ms, step_ms) {
            Plan::Full => self.range(query, start_ms, end_ms, step_ms).await?,
            Plan::Tail { from, cached } if from > end_ms => cached,
            Plan::Tail { from, cached } => {
                merge(cached, self.range(query, from, end_ms, step_ms).await)?
            }
        };
        cache.store(query, start_ms, step_ms, now, &result);
        Ok(result)
    }

    async fn query_instant(&self, query: &str, t_ms: i64) -> Result<Vec<InstantData>, QueryFailed> {
        match self.state.0.engine.instant(query, t_ms).await {
            Ok(Value::Vector(v)) => Ok(v
                .into_iter()
                .map(|s| InstantData {
                    labels: s.metric.into_map(),
                    value: s.v,
                })
                .collect()),
            Ok(Value::Scalar(v)) => Ok(vec![InstantData {
                labels: Default::default(),
                value: v,
            }]),
            Ok(other) => Err(QueryFailed(format!(
                "a {} cannot be shown as a value",
                other.type_name()
            ))),
            Err(e) => Err(QueryFailed(e.to_string())),
        }
    }

    async fn label_values(
        &self,
        label: &str,
        selector: Option<&str>,
    ) -> Result<Vec<String>, QueryFailed> {
        let key = (label.to_string(), selector.map(str::to_string));
        let cache = &self.state.0.ui.labels;
        if let Some((at, v)) = cache.0.lock().expect("not poisoned").get(&key) {
            if at.elapsed() < LABEL_CACHE_TTL {
                return Ok(v.clone());
            }
        }
        let values = values_of(&self.state, label, selector)
            .await
            .map_err(|e| QueryFailed(e.to_string()))?;
        cache
            .0
            .lock()
            .expect("not poisoned")
            .insert(key, (Instant::now(), values.clone()));
        Ok(values)
    }

    async fn storage_problems(&self) -> Vec<String> {
        let jobs = match self.state.0.store.background_jobs().await {
            Ok(j) => j,
            Err(e) => return vec![format!("Cannot read the database's background jobs: {e}")],
        };
        jobs.iter()
            .filter(|j| j.last_failed)
            .map(|j| {
                format!(
                    "The database's background job {} ({} on {}) failed its last run ({} failures so far). dozor's data stays right without it; check the PostgreSQL log.",
                    j.id, j.kind, j.table, j.failures
                )
            })
            .collect()
    }

    async fn agents(&self) -> Result<Vec<AgentInfo>, QueryFailed> {
        let now = self.now_ms();
        let list = self
            .state
            .0
            .store
            .list_agents()
            .await
            .map_err(|e| QueryFailed(e.to_string()))?;
        let mut agent_facts = Vec::with_capacity(list.len());
        for a in &list {
            agent_facts.push(
                protocol_facts(&self.state.0.store, a.id)
                    .await
                    .map_err(|e| QueryFailed(e.to_string()))?,
            );
        }
        Ok(list
            .into_iter()
            .zip(agent_facts)
            .map(|(a, extra)| {
                let inv = a.inventory.clone().unwrap_or_default();
                let text = |k: &str| {
                    inv.get(k)
                        .and_then(|v| v.as_str())
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                };
                let mut facts = inventory_facts(&inv);
                if let Some(boot) = inv
                    .get("boot_time")
                    .and_then(|v| v.as_i64())
                    .filter(|b| *b > 0)
                {
                    let up = (now / 1000 - boot).max(0) as f64;
                    facts.push((
                        "uptime".into(),
                        dozor_ui::chart::format(up, dozor_ui::chart::Unit::Seconds),
                    ));
                }
                facts.extend(extra);
                AgentInfo {
                    version: text("agent_version"),
                    os: text("os"),
                    kernel: text("kernel"),
                    online: a.revoked_ms.is_none()
                        && a.last_seen_ms.is_some_and(|t| now - t <= ONLINE_WINDOW_MS),
                    revoked: a.revoked_ms.is_some(),
                    created_ms: a.created_ms,
                    last_seen_ms: a.last_seen_ms,
                    name: a.name,
                    facts,
                }
            })
            .collect())
    }

    async fn containers(&self, host: Option<&str>) -> Result<Vec<ContainerRow>, QueryFailed> {
        let rows = self
            .state
            .0
            .store
            .containers(host)
            .await
            .map_err(|e| QueryFailed(e.to_string()))?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let sel = host
            .map(|h| format!("host=\"{}\"", dozor_ui::dashboards::promql_escape(h)))
            .unwrap_or_default();
        // Four reports at least, so one late report leaves a rate.
        let w = format!("{}s", (self.scrape_interval_ms() * 4 / 1000).max(60));
        let now = self.now_ms();
        let by = |expr: String| async move {
            let v = self.query_instant(&expr, now).await.unwrap_or_default();
            v.into_iter()
                .filter_map(|d| {
                    Some((
                        (
                            d.labels.get("host")?.clone(),
                            d.labels.get("container")?.clone(),
                        ),
                        d.value,
                    ))
                })
                .collect::<HashMap<(String, String), f64>>()
        };
        let (cpu, mem, net) = tokio::join!(
            by(format!("sum by (host, container) (rate(container_cpu_usage_seconds_total{{{sel}}}[{w}]))")),
            by(format!("sum by (host, container) (container_memory_working_set_bytes{{{sel}}})")),
            by(format!("sum by (host, container) (rate(container_network_receive_bytes_total{{{sel}}}[{w}]) + rate(container_network_transmit_bytes_total{{{sel}}}[{w}]))")),
        );
        Ok(rows
            .into_iter()
            .map(|r| {
                let k = (r.host.clone(), r.info.name.clone());
                // Stats are for running containers only; a stopped one's
                // last values would mislead.
                let live = r.info.state == "running";
                let get = |m: &HashMap<(String, String), f64>| m.get(&k).copied().filter(|_| live);
                ContainerRow {
                    cpu: get(&cpu),
                    memory: get(&mem),
                    net: get(&net),
                    host: r.host,
                    info: r.info,
                }
            })
            .collect())
    }

    fn scrape_interval_ms(&self) -> i64 {
        self.state.0.ui.scrape_ms
    }

    fn now_ms(&self) -> i64 {
        self.state.0.ops.now_ms()
    }
}

/// Distinct values of `label` on series matching `selector` (all series
/// when None), sorted: the label-values API for the dashboard's pickers.
pub(crate) async fn values_of(
    state: &AppState,
    label: &str,
    selector: Option<&str>,
) -> Result<Vec<String>, crate::promql::QueryError> {
    let qs = selector
        .map(|s| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("match[]", s)
                .finish()
        })
        .unwrap_or_default();
    let p = super::prom::Params::new(Some(&qs), &axum::http::HeaderMap::new(), &[]);
    let list = super::prom_listings::matching(state, &p, false).await?;
    let values: std::collections::BTreeSet<String> =
        list.iter().filter_map(|m| m.get(label).cloned()).collect();
    Ok(values.into_iter().collect())
}

/// What the host page says about an agent's protocol: the version and
/// task kinds it announced, and how far it got with its desired state.
async fn protocol_facts(
    store: &crate::storage::Store,
    agent_id: i64,
) -> crate::storage::Result<Vec<(String, String)>> {
    let mut facts = Vec::new();
    match store.capabilities(agent_id).await? {
        Some(c) => {
            facts.push(("protocol".into(), c.protocol.to_string()));
            facts.push(("task kinds".into(), c.task_kinds.join(", ")));
        }
        None => facts.push((
            "protocol".into(),
            "1 (an older collector: upgrade it for newer features)".into(),
        )),
    }
    if let Some(d) = store.desired_status(agent_id).await? {
        let state = match (d.applied_generation, d.applied_error) {
            (Some(g), Some(e)) => format!("generation {g} failed: {e}"),
            (Some(g), None) if g == d.generation => format!("generation {g} applied"),
            (Some(g), None) => format!("generation {} pending ({g} applied)", d.generation),
            (None, _) => format!("generation {} not applied yet", d.generation),
        };
        facts.push(("desired state".into(), state));
    }
    Ok(facts)
}
