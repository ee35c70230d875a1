//! The Services pages: the list, one service, the create/edit form and
//! delete. They parse, call `ops::services`, and render.

use super::authn::CurrentUser;
use super::guard::{actor, as_page, form_guard, on_page, Shown};
use super::ui::{render, Page};
use super::{AppState, Problem};
use crate::ops::{self, OpError};
use crate::storage::Role;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dozor_common::services::{Balance, Service};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::services::{self as page, detail, form, Apply};
use std::collections::HashMap;
use tracing::instrument;

/// Where the host's nginx stands, in words.
pub(crate) async fn apply_state(s: &AppState, host: &str) -> Apply {
    let store = &s.0.store;
    let Ok(Some(a)) = store.agent_by_name(host).await else {
        return Apply {
            text: format!("no agent called {host}"),
            failed: true,
            pending: false,
        };
    };
    match store.desired_status(a.id).await {
        Ok(Some(d)) => match (d.applied_generation, d.applied_error) {
            (g, Some(e)) => Apply {
                text: format!("generation {} failed: {e}", g.unwrap_or(d.generation)),
                failed: true,
                pending: false,
            },
            (Some(g), None) if g == d.generation => Apply {
                text: format!("applied generation {g}"),
                failed: false,
                pending: false,
            },
            (applied, None) => Apply {
                text: format!(
                    "pending: generation {} (applied: {})",
                    d.generation,
                    applied.map_or("none".into(), |g| g.to_string())
                ),
                failed: false,
                pending: true,
            },
        },
        _ => Apply {
            text: "pending".into(),
            failed: false,
            pending: true,
        },
    }
}

#[instrument(skip_all)]
pub async fn list(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
) -> Response {
    let records = match s.0.store.services(None).await {
        Ok(r) => r,
        Err(e) => return super::storage_error(e),
    };
    let traffic = super::services_traffic::by_service(&s).await;
    let mut rows = Vec::with_capacity(records.len());
    let mut views: HashMap<String, ops::services::HostView> = HashMap::new();
    for r in records {
        let host = r.spec.host.clone();
        if !views.contains_key(&host) {
            match ops::services::host_view(&s.0.ops, &host).await {
                Ok(v) => {
                    views.insert(host.clone(), v);
                }
                Err(e) => return as_page(e),
            }
        }
        let m = views[&host]
            .members
            .get(&r.spec.name)
            .cloned()
            .unwrap_or_default();
        rows.push(page::Row {
            live: m.iter().filter(|m| m.live()).count(),
            total: m.len(),
            apply: apply_state(&s, &host).await,
            traffic: traffic.get(&r.spec.name).copied().unwrap_or_default(),
            spec: r.spec,
        });
    }
    let data = page::ListData {
        rows,
        can_edit: u.role >= Role::Editor,
        notice: None,
    };
    let body: super::ui::BodyFn = Box::new(move |ctx| page::list(ctx, data));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Services".into(), "services", body),
    )
    .await
}

#[instrument(skip_all, fields(service = %name))]
pub async fn show(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let rec = match s.0.store.service(&name).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Problem::new(StatusCode::NOT_FOUND, format!("no service called {name}")).page()
        }
        Err(e) => return super::storage_error(e),
    };
    let view = match ops::services::host_view(&s.0.ops, &rec.spec.host).await {
        Ok(v) => v,
        Err(e) => return as_page(e),
    };
    let nginx = match &view.nginx {
        Some(n) => format!("{} on port {} (files in {})", n.mode, n.http_port, n.dir),
        None => format!(
            "{}'s agent does not run nginx yet: start its collector with --nginx host or --nginx container:NAME",
            rec.spec.host
        ),
    };
    let uptime = super::services_traffic::uptime(&s, &name).await;
    let data = detail::Data {
        uptime,
        members: view.members.get(&name).cloned().unwrap_or_default(),
        config: view.rendered.config.clone(),
        skipped: view
            .rendered
            .skipped
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, why)| why.clone()),
        apply: apply_state(&s, &rec.spec.host).await,
        nginx,
        can_edit: u.role >= Role::Editor,
        notice: None,
        updated: format!(
            "by {} at {} UTC",
            rec.updated_by,
            dozor_ui::chart::ticks::datetime(rec.updated_ms)
        ),
        spec: rec.spec,
    };
    render(s, headers, q, u, Page::Service(Box::new(data))).await
}

async fn hosts(s: &AppState) -> Vec<String> {
    s.0.store
        .list_agents()
        .await
        .map(|a| {
            a.into_iter()
                .filter(|a| a.revoked_ms.is_none())
                .map(|a| a.name)
                .collect()
        })
        .unwrap_or_default()
}

async fn show_form(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    draft: form::Draft,
    editing: bool,
    error: Option<FormError>,
) -> Response {
    let data = form::Data {
        draft,
        hosts: hosts(&s).await,
        editing,
        error: error.clone(),
    };
    let title = if editing {
        "Edit service"
    } else {
        "New service"
    };
    let body: super::ui::BodyFn = Box::new(move |ctx| form::body(ctx, data));
    let page = render(
        s,
        headers,
        None,
        u,
        Page::Custom(title.into(), "services", body),
    )
    .await;
    super::guard::refused_if(page, error.is_some())
}

#[instrument(skip_all)]
pub async fn new_form(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
) -> Response {
    if u.role < Role::Editor {
        return as_page(OpError::Forbidden(Role::Editor));
    }
    show_form(s, headers, u, form::Draft::default(), false, None).await
}

#[instrument(skip_all, fields(service = %name))]
pub async fn edit_form(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if u.role < Role::Editor {
        return as_page(OpError::Forbidden(Role::Editor));
    }
    match s.0.store.service(&name).await {
        Ok(Some(r)) => {
            show_form(
                s,
                headers,
                u,
                form::Draft::from_service(&r.spec),
                true,
                None,
            )
            .await
        }
        Ok(None) => Problem::new(StatusCode::NOT_FOUND, format!("no service called {name}")).page(),
        Err(e) => super::storage_error(e),
    }
}

/// The form's text as a service, or the first field that is not a number
/// where one is needed.
fn parse(f: &HashMap<String, String>) -> Result<Service, FormError> {
    let g = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let on = |k: &str| f.get(k).is_some_and(|v| v == "1" || v == "on");
    let number = |k: &'static str| -> Result<u32, FormError> {
        g(k).parse::<u32>()
            .map_err(|_| FormError::field(k, "a whole number"))
    };
    let lines = |k: &str| -> Vec<String> {
        g(k).split(['\n', ',', ' '])
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let port = match g("port").as_str() {
        "" => None,
        p => Some(
            p.parse::<u16>()
                .map_err(|_| FormError::field("port", "a port, 1–65535"))?,
        ),
    };
    let lb = Balance::parse(&g("lb"))
        .ok_or_else(|| FormError::field("lb", "round_robin, least_conn or ip_hash"))?;
    let mut headers = Vec::new();
    for line in g("headers")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| FormError::field("headers", format!("{line:?}: write Name: value")))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    Ok(Service {
        name: g("name"),
        host: g("host"),
        domains: lines("domains"),
        path: match g("path").as_str() {
            "" => "/".into(),
            p => p.to_string(),
        },
        port,
        static_upstreams: lines("static_upstreams"),
        lb,
        websocket: on("websocket"),
        max_body: g("max_body"),
        connect_timeout_s: number("connect_timeout_s")?,
        read_timeout_s: number("read_timeout_s")?,
        send_timeout_s: number("send_timeout_s")?,
        max_fails: number("max_fails")?,
        fail_timeout_s: number("fail_timeout_s")?,
        headers,
        enabled: on("enabled"),
        https_redirect: on("https_redirect"),
        hsts: on("hsts"),
        error_pages: on("error_pages"),
    })
}

/// A draft that keeps what was typed, for showing the form again.
fn typed(f: &HashMap<String, String>) -> form::Draft {
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let on = |k: &str| f.get(k).is_some_and(|v| v == "1" || v == "on");
    form::Draft {
        name: g("name"),
        host: g("host"),
        domains: g("domains"),
        path: g("path"),
        port: g("port"),
        static_upstreams: g("static_upstreams"),
        lb: g("lb"),
        websocket: on("websocket"),
        max_body: g("max_body"),
        connect_timeout_s: g("connect_timeout_s"),
        read_timeout_s: g("read_timeout_s"),
        send_timeout_s: g("send_timeout_s"),
        max_fails: g("max_fails"),
        fail_timeout_s: g("fail_timeout_s"),
        headers: g("headers"),
        enabled: on("enabled"),
        error_pages: on("error_pages"),
        https_redirect: on("https_redirect"),
        hsts: on("hsts"),
    }
}

async fn submit(
    s: AppState,
    u: CurrentUser,
    headers: HeaderMap,
    f: HashMap<String, String>,
    editing: Option<String>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let mut spec = match parse(&f) {
        Ok(s) => s,
        Err(e) => return show_form(s, headers, u, typed(&f), editing.is_some(), Some(e)).await,
    };
    if let Some(name) = &editing {
        spec.name = name.clone();
    }
    match ops::services::save(&s.0.ops, &actor(&u, None), spec, editing.is_none()).await {
        Ok(saved) => Redirect::to(&page::href(&saved.name)).into_response(),
        Err(OpError::Fields(fields)) => {
            let first = fields.first().cloned();
            let e = first.map(|fe| FormError::new(Some(fe.field), fe.message));
            show_form(s, headers, u, typed(&f), editing.is_some(), e).await
        }
        Err(e) => match on_page(e) {
            Shown::Answer(r) => r,
            Shown::Notice(n) => {
                show_form(
                    s,
                    headers,
                    u,
                    typed(&f),
                    editing.is_some(),
                    Some(FormError::general(n)),
                )
                .await
            }
        },
    }
}

#[instrument(skip_all, fields(user = %u.name))]
pub async fn create(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    submit(s, u, headers, f, None).await
}

#[instrument(skip_all, fields(user = %u.name, service = %name))]
pub async fn update(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    submit(s, u, headers, f, Some(name)).await
}

#[instrument(skip_all, fields(user = %u.name, service = %name))]
pub async fn delete(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    match ops::services::delete(&s.0.ops, &actor(&u, None), &name).await {
        Ok(_) => Redirect::to("/services").into_response(),
        Err(e) => as_page(e),
    }
}
