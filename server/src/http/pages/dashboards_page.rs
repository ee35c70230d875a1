//! `/d`: every dashboard, built-in or from `--dashboards-dir`, for every
//! signed-in role.

use super::authn::CurrentUser;
use super::ui::{render, Page};
use super::AppState;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use dozor_ui::pages::dashboards_list;

#[tracing::instrument(skip_all)]
pub async fn list(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let dashboards = s.0.ui.dashboards.clone();
    let body = Box::new(move |ctx: &dozor_ui::Ctx| dashboards_list::body(ctx, &dashboards));
    let page = Page::Custom("Dashboards".into(), "dashboards", body);
    render(s, headers, q, u, page).await
}
