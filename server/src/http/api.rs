//! The JSON API and the Prometheus API (read scope: an API token or a
//! session), remote_write (write scope), and the operations endpoints
//! (`/metrics`, `/healthz`, `/readyz`).

mod autoscale;
mod certificates;
mod checks;
mod federate;
pub(crate) mod ops;
pub mod prom;
pub(crate) mod prom_listings;
pub(crate) mod prom_rules;
mod prom_tools;
mod protection;
pub(crate) mod read;
mod services;
pub(crate) mod write;

pub(crate) use super::agent::ingest as agents;
pub(crate) use super::auth::authn;
pub(crate) use super::{error, storage_error, AppState, ONLINE_WINDOW_MS};

use super::{Paths, API_BODY_LIMIT};
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;

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
            get(prom_listings::series).post(prom_listings::series),
        )
        .route(
            t.add("/prometheus/api/v1/labels"),
            get(prom_listings::labels).post(prom_listings::labels),
        )
        .route(
            t.add("/prometheus/api/v1/label/{name}/values"),
            get(prom_listings::label_values),
        )
        .route(
            t.add("/prometheus/api/v1/metadata"),
            get(prom_listings::metadata),
        )
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
        .route(
            t.add("/prometheus/api/v1/status/config"),
            get(prom_tools::config),
        )
        .route(
            t.add("/prometheus/api/v1/format_query"),
            get(prom_tools::format_query).post(prom_tools::format_query),
        )
        .route(
            t.add("/prometheus/api/v1/parse_query"),
            get(prom_tools::parse_query).post(prom_tools::parse_query),
        )
        .route(t.add("/prometheus/federate"), get(federate::federate))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .route_layer(axum::middleware::from_fn_with_state(state, authn::read_api))
}

/// Every API route.
pub(super) fn routes(state: AppState, t: &Paths) -> Router<AppState> {
    Router::new()
        .merge(read_api(state.clone(), t))
        .route(t.add("/prometheus/api/v1/write"), post(write::write))
        // Services check their caller themselves: reads need read scope,
        // changes write scope.
        .route(
            t.add("/api/v1/services"),
            get(services::list).post(services::create),
        )
        .route(
            t.add("/api/v1/services/{name}"),
            get(services::get_one)
                .put(services::replace)
                .delete(services::delete),
        )
        // Protection reads need read scope, changes admin scope.
        .route(
            t.add("/api/v1/protection"),
            get(protection::get_settings).put(protection::put_settings),
        )
        .route(
            t.add("/api/v1/blocks"),
            get(protection::list).post(protection::create),
        )
        .route(t.add("/api/v1/blocks/{id}"), delete(protection::delete))
        // Checks: reads need read scope, changes write scope.
        .route(
            t.add("/api/v1/checks"),
            get(checks::list).post(checks::create),
        )
        .route(t.add("/api/v1/checks/{name}"), delete(checks::delete))
        // Certificates: reads need read scope, changes write scope (and an
        // editor; the ACME account an admin).
        // Autoscaling: reads need read scope, changes write scope.
        .route(
            t.add("/api/v1/services/{name}/autoscale"),
            get(autoscale::get_policy)
                .put(autoscale::put_policy)
                .delete(autoscale::delete_policy),
        )
        .route(
            t.add("/api/v1/services/{name}/autoscale/preview"),
            axum::routing::post(autoscale::preview),
        )
        .route(
            t.add("/api/v1/services/{name}/scale"),
            axum::routing::post(autoscale::scale),
        )
        .route(
            t.add("/api/v1/services/{name}/scale-events"),
            get(autoscale::events),
        )
        .route(t.add("/api/v1/certificates"), get(certificates::list))
        .route(
            t.add("/api/v1/certificates/{service}"),
            axum::routing::put(certificates::upload),
        )
        .route(
            t.add("/api/v1/certificates/{service}/{action}"),
            axum::routing::post(certificates::act),
        )
        .route(
            t.add("/api/v1/acme"),
            get(certificates::get_acme).put(certificates::put_acme),
        )
        .route(
            t.add("/metrics"),
            get(ops::metrics).route_layer(axum::middleware::from_fn_with_state(
                state,
                authn::metrics_gate,
            )),
        )
        .route(t.add("/healthz"), get(ops::healthz))
        .route(t.add("/readyz"), get(ops::readyz))
}
