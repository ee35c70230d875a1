//! The route table: every path, its handlers, its body limit and the
//! layers in front of it (sessions for pages, read scope for the APIs,
//! request metrics, HSTS, compression).

use super::*;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use dozor_common::containers::{TASKS_PATH, TASK_RESULT_PATH};
use dozor_common::protocol::{ENROLL_PATH, HEARTBEAT_PATH};

/// The read APIs: a read-scoped API token or a session.
fn read_api(state: AppState, t: &Paths) -> Router<AppState> {
    Router::new()
        .route(t.add("/api/v1/agents"), get(read::agents))
        .route(t.add("/api/v1/series"), get(read::series))
        .route(t.add("/api/v1/series/{id}/samples"), get(read::samples))
        .route(
            t.add("/prometheus/api/v1/query"),
            get(prom::query).post(prom::query),
        )
        .route(
            t.add("/prometheus/api/v1/query_range"),
            get(prom::query_range).post(prom::query_range),
        )
        .route(
            t.add("/prometheus/api/v1/series"),
            get(prom::series).post(prom::series),
        )
        .route(
            t.add("/prometheus/api/v1/labels"),
            get(prom::labels).post(prom::labels),
        )
        .route(
            t.add("/prometheus/api/v1/label/{name}/values"),
            get(prom::label_values),
        )
        .route(t.add("/prometheus/api/v1/metadata"), get(prom::metadata))
        .route(
            t.add("/prometheus/api/v1/query_exemplars"),
            get(prom::empty_list).post(prom::empty_list),
        )
        .route(t.add("/prometheus/api/v1/rules"), get(prom_rules::rules))
        .route(t.add("/prometheus/api/v1/alerts"), get(prom_rules::alerts))
        .route(
            t.add("/prometheus/api/v1/status/buildinfo"),
            get(prom::buildinfo),
        )
        .route(
            t.add("/prometheus/api/v1/status/runtimeinfo"),
            get(prom::runtimeinfo),
        )
        .route(t.add("/prometheus/api/v1/status/flags"), get(prom::flags))
        .route(t.add("/prometheus/federate"), get(prom::federate))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .route_layer(axum::middleware::from_fn_with_state(state, authn::read_api))
}

/// Every route's path template, recorded as the router is built, so tests
/// can walk them all (`tests/body_limits.rs` posts an oversized body to
/// each).
#[derive(Default)]
pub struct Paths(std::sync::Mutex<Vec<&'static str>>);

impl Paths {
    pub(super) fn add(&self, path: &'static str) -> &'static str {
        self.0.lock().expect("lock").push(path);
        path
    }

    pub fn list(&self) -> Vec<&'static str> {
        self.0.lock().expect("lock").clone()
    }
}

/// Bodies of routes that set no limit of their own: enough for any form
/// or JSON document they take.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Forms of the dashboard.
pub const FORM_BODY_LIMIT: usize = 16 * 1024;
/// Prometheus API requests sent as POST forms (Grafana sends queries and
/// `match[]` lists this way).
pub const API_BODY_LIMIT: usize = 1 << 20;

pub fn router(state: AppState) -> Router {
    router_with_paths(state, &Paths::default())
}

/// [`router`], recording every path in `t`.
pub fn router_with_paths(state: AppState, t: &Paths) -> Router {
    let form_limit = || DefaultBodyLimit::max(FORM_BODY_LIMIT);
    // Every page and form behind a live session (and setup done).
    let pages = Router::new()
        .route(t.add("/"), get(ui::overview_page))
        .route(t.add("/hosts/{host}"), get(ui::host_page))
        .route(t.add("/d/{slug}"), get(ui::dashboard_page))
        .route(t.add("/explore"), get(ui::explore_page))
        .route(t.add("/agents"), get(ui::agents_page))
        .route(
            t.add("/agents/enroll-token"),
            post(ui_agents::new_enroll_token).layer(form_limit()),
        )
        .route(
            t.add("/agents/revoke-tokens"),
            post(ui_agents::revoke_enroll_tokens).layer(form_limit()),
        )
        .route(
            t.add("/agents/{name}/revoke"),
            post(ui_agents::revoke_agent).layer(form_limit()),
        )
        .route(
            t.add("/users"),
            get(users::users_page)
                .post(users::create)
                .layer(form_limit()),
        )
        .route(
            t.add("/users/{id}/{action}"),
            post(users::change).layer(form_limit()),
        )
        .route(
            t.add("/users/invite"),
            post(invites::create).layer(form_limit()),
        )
        .route(
            t.add("/users/invites/{id}/revoke"),
            post(invites::revoke).layer(form_limit()),
        )
        .route(t.add("/audit"), get(users::audit_page))
        .route(t.add("/account"), get(account::page))
        .route(
            t.add("/account/password"),
            post(account::change_password).layer(form_limit()),
        )
        .route(
            t.add("/account/tokens"),
            post(account::create_token).layer(form_limit()),
        )
        .route(
            t.add("/account/tokens/{id}/revoke"),
            post(account::revoke_token).layer(form_limit()),
        )
        .route(t.add("/containers"), get(containers::fleet))
        .route(t.add("/containers/view"), get(containers::page))
        .route(t.add("/containers/logs"), get(containers::logs))
        .route(
            t.add("/containers/action"),
            post(containers::action).layer(form_limit()),
        )
        .merge(alerting::routes(t))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            login::require_session,
        ));
    Router::new()
        .merge(pages)
        .route(
            t.add("/login"),
            get(login::login_page)
                .post(login::login_submit)
                .layer(form_limit()),
        )
        .route(t.add("/logout"), post(login::logout).layer(form_limit()))
        .route(
            t.add("/setup"),
            get(login::setup_page)
                .post(login::setup_submit)
                .layer(form_limit()),
        )
        .route(
            t.add("/invite"),
            get(invites::page).post(invites::accept).layer(form_limit()),
        )
        .route(t.add("/assets/{name}"), get(ui::asset))
        .route(t.add("/favicon.ico"), get(ui::favicon))
        .route(t.add(ENROLL_PATH), post(agents::enroll))
        .route(t.add(HEARTBEAT_PATH), post(agents::heartbeat))
        .route(t.add(TASKS_PATH), get(agent_tasks::poll))
        .route(
            t.add(dozor_common::desired::DESIRED_STATE_PATH),
            get(agent_tasks::desired_state),
        )
        // Reads its body itself, after the key check, with its own limit.
        .route(t.add(TASK_RESULT_PATH), post(agent_tasks::result))
        .merge(read_api(state.clone(), t))
        .route(t.add("/prometheus/api/v1/write"), post(write::write))
        .route(
            t.add("/metrics"),
            get(ops::metrics).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                authn::metrics_gate,
            )),
        )
        .route(t.add("/healthz"), get(ops::healthz))
        .route(t.add("/readyz"), get(ops::readyz))
        // Every body is read with a limit. Routes that take more set their
        // own; heartbeats, remote_write and enrolment read their bodies
        // themselves (after their checks) with theirs, answering 413 in
        // their protocol's shape.
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(common_headers))
        // Pages, JSON and /metrics compress well; agents' request bodies
        // are decoded by their handlers, not here.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}
