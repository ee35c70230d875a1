//! Container pages and what they ask of agents: the fleet Containers page,
//! one container's page, its log lines (a `container.logs` task, answered
//! as JSON for the log view's polling) and start/stop/restart (admins,
//! confirmed, audited, run as tasks).

use super::authn::CurrentUser;
use super::guard::{actor, as_json, as_page, form_guard, on_page, Shown};
use super::ui::{render, Page};
use super::{error, storage_error, AppState, Problem, ONLINE_WINDOW_MS};
use crate::ops::{self, OpError};
use crate::storage::{AgentRecord, Role};
use crate::tasks::TaskError;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use dozor_common::containers::valid_container_ref;
use dozor_ui::pages::container::{Data, EventItem};
use std::collections::HashMap;
use std::time::Duration;
use tracing::instrument;

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
            let now = s.0.ops.now_ms();
            let online = a.last_seen_ms.is_some_and(|t| now - t <= ONLINE_WINDOW_MS);
            Ok(Some((a, online)))
        }
        Ok(_) => Ok(None),
        Err(e) => Err(storage_error(e)),
    }
}

/// What the container page shows besides the container itself.
#[derive(Default)]
pub(crate) struct PageExtras {
    pub notice: Option<String>,
    /// An action waiting for confirmation.
    pub confirm: Option<String>,
}

impl PageExtras {
    pub fn notice(text: String) -> Self {
        Self {
            notice: Some(text),
            ..Default::default()
        }
    }
}

pub(crate) async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    host: String,
    name: String,
    extra: PageExtras,
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
            Err(e) => return Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.0).page(),
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
    let recent_logs = if online {
        Some(recent_logs(&s, &u, &host, &name).await)
    } else {
        None
    };
    let data = Data {
        host,
        name: name.clone(),
        row,
        events,
        is_admin: u.role == Role::Admin,
        agent_online: online,
        notice: extra.notice,
        confirm: extra.confirm,
        recent_logs,
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
        return Problem::new(
            StatusCode::BAD_REQUEST,
            "say which container: ?host=H&name=N",
        )
        .page();
    };
    let notice = match q.get("task").and_then(|t| t.parse::<i64>().ok()) {
        Some(id) => match task_notice(&s, id, host, name).await {
            Ok(n) => n,
            Err(r) => return r,
        },
        None => None,
    };
    let extra = PageExtras {
        notice,
        ..Default::default()
    };
    show(s, headers, u, host.clone(), name.clone(), extra).await
}

/// Lines the page is made with: all a browser without JavaScript shows,
/// and where the live view starts (from their cursor, so it never fetches
/// them twice).
const RECENT_LINES: u32 = 200;

/// How long the page waits for the agent's lines before it is sent
/// without them (the live view then fetches them itself).
const RECENT_WAIT: Duration = Duration::from_secs(3);

async fn recent_logs(
    s: &AppState,
    u: &CurrentUser,
    host: &str,
    name: &str,
) -> Result<dozor_common::containers::LogsOutput, String> {
    let query = ops::containers::LogsQuery {
        host: host.to_string(),
        container: name.to_string(),
        tail: RECENT_LINES,
        since: None,
        stdout: true,
        stderr: true,
    };
    match tokio::time::timeout(
        RECENT_WAIT,
        ops::containers::logs(&s.0.ops, &actor(u, None), query),
    )
    .await
    {
        Ok(answer) => answer.map_err(|e| about_host(e, host).to_string()),
        Err(_) => Err(format!(
            "{host}'s agent did not answer within {} s",
            RECENT_WAIT.as_secs()
        )),
    }
}

/// A refused log fetch or action, in words about this host.
fn about_host(e: OpError, host: &str) -> OpError {
    match e {
        OpError::Task(TaskError::Offline) => OpError::Task(TaskError::Failed(format!(
            "agent offline: {host} has not reported for over a minute"
        ))),
        other => other,
    }
}

/// `GET /containers/logs?host=H&name=N[&since=CURSOR][&tail=N][&stdout=0][&stderr=0]`:
/// the lines as JSON (`lines`, `cursor`, `truncated`), or `error`.
#[instrument(skip_all, fields(host, container))]
pub async fn logs(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (Some(host), Some(name)) = (q.get("host"), q.get("name")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "say which container: ?host=H&name=N",
            None,
        );
    };
    let span = tracing::Span::current();
    span.record("host", host.as_str());
    span.record("container", name.as_str());
    let flag = |k: &str| q.get(k).is_none_or(|v| v != "0" && v != "false");
    let tail = match q.get("tail").map(|t| t.parse::<u32>()) {
        None => 200,
        Some(Ok(n)) => n,
        Some(Err(_)) => 0,
    };
    let query = ops::containers::LogsQuery {
        host: host.clone(),
        container: name.clone(),
        tail,
        since: q.get("since").filter(|c| !c.is_empty()).cloned(),
        stdout: flag("stdout"),
        stderr: flag("stderr"),
    };
    match ops::containers::logs(&s.0.ops, &actor(&u, None), query).await {
        Ok(out) => Json(out).into_response(),
        Err(OpError::Task(TaskError::Offline)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("agent offline: {host} has not reported for over a minute"),
            None,
        ),
        Err(OpError::Task(TaskError::TimedOut)) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "agent {host} did not answer within {} s",
                ops::containers::LOGS_WAIT.as_secs()
            ),
            None,
        ),
        Err(e) => as_json(e),
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
    let action = match ops::containers::Action::parse(&verb) {
        Ok(a) => a,
        Err(e) => return as_page(e),
    };
    if !valid_container_ref(&name) {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            format!("not a container name: {name:?}"),
        )
        .page();
    }
    if action.needs_confirmation() && g("confirm") != "yes" {
        let extra = PageExtras {
            confirm: Some(verb),
            ..Default::default()
        };
        return show(s, headers, u, host, name, extra).await;
    }
    let id = match ops::containers::act(&s.0.ops, &actor(&u, None), &host, &name, action).await {
        Ok(id) => id,
        Err(OpError::Task(TaskError::Offline)) => {
            let msg = format!("Not done: agent {host} is offline.");
            return show(s, headers, u, host, name, PageExtras::notice(msg)).await;
        }
        Err(e @ OpError::NotFound(_)) => return as_page(e),
        Err(e) => match on_page(about_host(e, &host)) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => {
                let extra = PageExtras::notice(format!("Not done: {n}"));
                return show(s, headers, u, host, name, extra).await;
            }
        },
    };
    // The outcome is shown by a GET, so reloading it never runs the action again.
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
    let outcome = ops::containers::action_outcome(&s.0.ops, id, host, name, Duration::from_secs(5))
        .await
        .map_err(as_page)?;
    Ok(outcome.map(|o| match o {
        Ok(out) => format!("Task {id}: {}.", out.message),
        Err(TaskError::TimedOut) => {
            format!("Task {id} is queued; {host} has not answered yet. Reload to see the outcome.")
        }
        Err(e) => format!("Task {id} failed: {e}"),
    }))
}
