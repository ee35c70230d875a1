//! The route table: the four audiences' routes (`agent`, `api`, `pages`,
//! `auth`, each its own `routes()`) merged under the layers every request
//! passes (body limit, request metrics, common headers, compression), with
//! every path recorded in [`Paths`].

use super::*;
use axum::extract::DefaultBodyLimit;
use axum::Router;

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
    Router::new()
        .merge(pages::routes(state.clone(), t))
        .merge(auth::routes(t))
        .merge(agent::routes(t))
        .merge(api::routes(state.clone(), t))
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
