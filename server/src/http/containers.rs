//! Container pages and what they ask of agents: the fleet Containers page,
//! one container's page, its log lines (a `container.logs` task, answered
//! as JSON for the log view's polling) and start/stop/restart (admins,
//! confirmed, audited, run as tasks).

use super::authn::{audit, CurrentUser};
use super::guard::form_guard;
use super::ui::{render, Page};
use super::{error, storage_error, AppState, ONLINE_WINDOW_MS};
use crate::storage::{AgentRecord, NewTask, Role};
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use dozor_common::containers::{
    valid_container_ref, ActionRequest, LogsOutput, LogsRequest, TASK_LOGS, TASK_RESTART,
    TASK_START, TASK_STOP,
};
use dozor_ui::pages::container::{Data, EventItem};
use std::collections::HashMap;
use std::time::Duration;
use tracing::instrument;

/// Lines and bytes one fetch may return.
pub const MAX_LINES: u32 = 1000;
pub const MAX_BYTES: u32 = 1 << 20;
/// How long a page waits for the agent's answer.
const LOGS_WAIT: Duration = Duration::from_secs(10);
/// Stop and restart give the container 10 s before SIGKILL.
const ACTION_WAIT: Duration = Duration::from_secs(20);

#[instrument(skip_all)]
pub async fn fleet(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    render(s, headers, q, u, Page::Containers).await
}

/// The agent, and whether it reported recently.
async fn agent(s: &AppState, host: &str) -> Result<Option<(AgentRecord, bool)>, Response> {
    match s.0.store.agent_by_name(host).await {
        Ok(Some(a)) if a.revoked_ms.is_none() => {
            let now = super::now_ms();
            let online = a.last_seen_ms.is_some_and(|t| now - t <= ONLINE_WINDOW_MS);
            Ok(Some((a, online)))
        }
        Ok(_) => Ok(None),
        Err(e) => Err(storage_error(e)),
    }
}

pub(super) async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    host: String,
    name: String,
    notice: Option<String>,
    confirm: Option<String>,
) -> Response {
    let online = match agent(&s, &host).await {
        Ok(a) => a.is_some_and(|(_, online)| online),
        Err(r) => return r,
    };
    let row = {
        let src = super::ui_source::Source { state: s.clone() };
        use dozor_ui::DataSource;
        match src.containers(Some(&host)).await {
            Ok(rows) => rows.into_iter().find(|r| r.info.name == name),
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.0, None),
        }
    };
    let events = match s.0.store.container_events(&host, &name, 200).await {
        Ok(ev) => ev
            .into_iter()
            .map(|e| EventItem {
                ts_ms: e.event.ts_ms,
                action: e.event.action,
                detail: e.event.detail,
                source: e.source,
            })
            .collect(),
        Err(e) => return storage_error(e),
    };
    let data = Data {
        host,
        name: name.clone(),
        row,
        events,
        is_admin: u.role == Role::Admin,
        agent_online: online,
        notice,
        confirm,
    };
    render(s, headers, None, u, Page::Container(Box::new(data))).await
}

#[instrument(skip_all)]
pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (Some(host), Some(name)) = (q.get("host"), q.get("name")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "say which container: ?host=H&name=N",
            None,
        );
    };
    let notice = match q.get("task").and_then(|t| t.parse::<i64>().ok()) {
        Some(id) => match task_notice(&s, id, host, name).await {
            Ok(n) => n,
            Err(r) => return r,
        },
        None => None,
    };
    show(s, headers, u, host.clone(), name.clone(), notice, None).await
}

fn json_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": msg.into() }))).into_response()
}

/// `GET /containers/logs?host=H&name=N[&since=CURSOR][&tail=N][&stdout=0][&stderr=0]`:
/// the lines as JSON (`lines`, `cursor`, `truncated`), or `error`.
#[instrument(skip_all, fields(host, container))]
pub async fn logs(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // Each fetch is a task row and Docker work on the host.
    if let Some(wait) = super::wait_time(&s.0.task_limiter, &u.name) {
        let mut r = json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many log fetches; slow down",
        );
        let secs = wait.as_secs().max(1).to_string();
        if let Ok(v) = axum::http::HeaderValue::from_str(&secs) {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        return r;
    }
    let (Some(host), Some(name)) = (q.get("host"), q.get("name")) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "say which container: ?host=H&name=N",
        );
    };
    if !valid_container_ref(name) {
        return json_error(
            StatusCode::BAD_REQUEST,
            format!("not a container name: {name:?}"),
        );
    }
    let span = tracing::Span::current();
    span.record("host", host.as_str());
    span.record("container", name.as_str());
    let flag = |k: &str| q.get(k).is_none_or(|v| v != "0" && v != "false");
    let tail = match q.get("tail").map(|t| t.parse::<u32>()) {
        None => 200,
        Some(Ok(n)) if n >= 1 => n.min(MAX_LINES),
        Some(_) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "tail must be a whole number from 1",
            )
        }
    };
    let since = q.get("since").filter(|c| !c.is_empty()).cloned();
    if let Some(c) = &since {
        if dozor_common::containers::rfc3339_nanos(c).is_none() {
            return json_error(StatusCode::BAD_REQUEST, format!("bad cursor {c:?}"));
        }
    }
    let (agent, online) = match agent(&s, host).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return json_error(
                StatusCode::NOT_FOUND,
                format!("no active agent called {host:?}"),
            )
        }
        Err(r) => return r,
    };
    if !online {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("agent offline: {host} has not reported for over a minute"),
        );
    }
    let req = LogsRequest {
        container: name.clone(),
        tail,
        since,
        stdout: flag("stdout"),
        stderr: flag("stderr"),
        max_lines: MAX_LINES,
        max_bytes: MAX_BYTES,
    };
    let payload = serde_json::to_value(&req).expect("logs request serialises");
    let task = NewTask {
        agent_id: agent.id,
        kind: TASK_LOGS.into(),
        payload,
        idempotency_key: None,
    };
    let hub = &s.0.ingest.tasks;
    let id = match hub.enqueue(&s.0.store, &task).await {
        Ok(id) => id,
        Err(e) => return storage_error(e),
    };
    let done = match hub.wait_result(&s.0.store, id, LOGS_WAIT).await {
        Ok(t) => t.and_then(|t| t.result),
        Err(e) => return storage_error(e),
    };
    // The answer is this page's alone: no need to keep it.
    if done.is_some() {
        if let Err(e) = s.0.store.clear_task_result(id).await {
            tracing::warn!(error = %e, task_id = id, "a log answer could not be dropped; maintenance will");
        }
    }
    let Some(result) = done else {
        return json_error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "agent {host} did not answer within {} s",
                LOGS_WAIT.as_secs()
            ),
        );
    };
    if result["ok"] != true {
        let msg = result["message"]
            .as_str()
            .unwrap_or("the agent could not read the logs");
        let status = if msg.starts_with("container gone") {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_GATEWAY
        };
        return json_error(status, msg);
    }
    match serde_json::from_value::<LogsOutput>(result["output"].clone()) {
        Ok(out) => Json(out).into_response(),
        Err(e) => json_error(
            StatusCode::BAD_GATEWAY,
            format!("unreadable answer from the agent: {e}"),
        ),
    }
}

/// `POST /containers/action`: start, or (once confirmed) stop or restart.
#[instrument(skip_all, fields(user = %u.name))]
pub async fn action(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let g = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let (host, name, verb) = (g("host"), g("name"), g("action"));
    let kind = match verb.as_str() {
        "start" => TASK_START,
        "stop" => TASK_STOP,
        "restart" => TASK_RESTART,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("unknown action {verb:?}; use start, stop or restart"),
                Some("action".into()),
            )
        }
    };
    if !valid_container_ref(&name) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("not a container name: {name:?}"),
            Some("name".into()),
        );
    }
    if kind != TASK_START && g("confirm") != "yes" {
        return show(s, headers, u, host, name, None, Some(verb)).await;
    }
    let (agent, online) = match agent(&s, &host).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no active agent called {host:?}"),
                Some("host".into()),
            )
        }
        Err(r) => return r,
    };
    if !online {
        let msg = format!("Not done: agent {host} is offline.");
        return show(s, headers, u, host, name, Some(msg), None).await;
    }
    let task = NewTask {
        agent_id: agent.id,
        kind: kind.into(),
        payload: serde_json::to_value(ActionRequest {
            container: name.clone(),
        })
        .expect("serialises"),
        idempotency_key: None,
    };
    let hub = &s.0.ingest.tasks;
    let id = match hub.enqueue(&s.0.store, &task).await {
        Ok(id) => id,
        Err(e) => return storage_error(e),
    };
    let target = format!("{host}/{name} task {id}");
    audit(&s, &u.name, kind, Some(&target), None).await;
    // The outcome is shown by a GET, so reloading it never runs the action again.
    if let Err(e) = hub.wait_result(&s.0.store, id, ACTION_WAIT).await {
        return storage_error(e);
    }
    let to = format!(
        "{}&task={id}",
        dozor_ui::components::containers::href(&host, &name)
    );
    axum::response::Redirect::to(&to).into_response()
}

/// What became of an action task, for the page it redirects to; None when
/// the id is not an action on this container.
async fn task_notice(
    s: &AppState,
    id: i64,
    host: &str,
    name: &str,
) -> Result<Option<String>, Response> {
    let t = match s
        .0
        .ingest
        .tasks
        .wait_result(&s.0.store, id, Duration::from_secs(5))
        .await
    {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(e) => return Err(storage_error(e)),
    };
    let ours = [TASK_START, TASK_STOP, TASK_RESTART].contains(&t.kind.as_str())
        && t.payload["container"] == name
        && matches!(agent(s, host).await?, Some((a, _)) if a.id == t.agent_id);
    if !ours {
        return Ok(None);
    }
    Ok(Some(match t.result {
        Some(r) if r["ok"] == true => {
            format!("Task {id}: {}.", r["message"].as_str().unwrap_or("done"))
        }
        Some(r) => format!(
            "Task {id} failed: {}",
            r["message"].as_str().unwrap_or("no reason given")
        ),
        None => {
            format!("Task {id} is queued; {host} has not answered yet. Reload to see the outcome.")
        }
    }))
}
