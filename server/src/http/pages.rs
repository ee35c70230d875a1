//! The dashboard: every page and form, behind a live session (and setup
//! done); forms are CSRF-checked and capped at `FORM_BODY_LIMIT`.

pub(crate) mod account;
pub(crate) mod alerting;
pub(crate) mod alerts_page;
pub(crate) mod certificates_page;
pub(crate) mod checks_page;
pub(crate) mod containers;
pub(crate) mod dashboards_page;
pub(crate) mod error_pages_page;
pub(crate) mod invites;
pub(crate) mod rules_editor;
pub(crate) mod rules_page;
pub(crate) mod scaling_page;
pub(crate) mod security_page;
pub(crate) mod services_pages;
pub(crate) mod services_traffic;
pub(crate) mod silences;
pub(crate) mod targets_admin;
pub(crate) mod targets_page;
pub(crate) mod telegram_settings;
pub mod ui;
pub(crate) mod ui_agents;
pub(crate) mod ui_source;
pub(crate) mod users;

pub(crate) use super::api::{prom, prom_listings};
pub(crate) use super::auth::{authn, guard, login};
pub(crate) use super::{error, AppState, Paths, Problem, FORM_BODY_LIMIT, ONLINE_WINDOW_MS};

/// Storage trouble while making a page: a page saying so.
pub(crate) fn storage_error(e: crate::storage::StorageError) -> axum::response::Response {
    Problem::from(e).page()
}

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

/// The error page form: a 256 KiB template, percent-encoded.
const ERROR_PAGE_FORM_LIMIT: usize = 800 * 1024;
/// An uploaded chain and key (64 KiB each at most), form-encoded.
const CERT_FORM_LIMIT: usize = 400 * 1024;

/// Every page behind a session, plus the assets (public: the sign-in page
/// needs them).
pub(super) fn routes(state: AppState, t: &Paths) -> Router<AppState> {
    let form_limit = || DefaultBodyLimit::max(FORM_BODY_LIMIT);
    // Every page and form behind a live session (and setup done).
    Router::new()
        .route(t.add("/"), get(ui::overview_page))
        .route(
            t.add("/getting-started/dismiss"),
            post(ui::dismiss_getting_started).layer(form_limit()),
        )
        .route(t.add("/hosts/{host}"), get(ui::host_page))
        .route(t.add("/d"), get(dashboards_page::list))
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
        .route(t.add("/services"), get(services_pages::list))
        .route(
            t.add("/services/new"),
            get(services_pages::new_form)
                .post(services_pages::create)
                .layer(form_limit()),
        )
        .route(t.add("/services/{name}"), get(services_pages::show))
        .route(
            t.add("/services/{name}/edit"),
            get(services_pages::edit_form)
                .post(services_pages::update)
                .layer(form_limit()),
        )
        .route(
            t.add("/services/{name}/delete"),
            post(services_pages::delete).layer(form_limit()),
        )
        .route(
            t.add("/services/{name}/scaling"),
            get(scaling_page::page)
                .post(scaling_page::submit)
                .layer(form_limit()),
        )
        .route(
            t.add("/services/{name}/scale"),
            post(scaling_page::scale).layer(form_limit()),
        )
        .route(
            t.add("/error-pages"),
            get(error_pages_page::page)
                // A template may be 256 KiB (form-encoded, up to three
                // times that).
                .post(error_pages_page::save)
                .layer(DefaultBodyLimit::max(ERROR_PAGE_FORM_LIMIT)),
        )
        .route(
            t.add("/error-pages/preview"),
            get(error_pages_page::preview),
        )
        .route(t.add("/security"), get(security_page::page))
        .route(t.add("/certificates"), get(certificates_page::page))
        .route(
            t.add("/certificates/acme"),
            post(certificates_page::save_acme).layer(form_limit()),
        )
        .route(
            t.add("/certificates/issue"),
            post(certificates_page::issue).layer(form_limit()),
        )
        .route(
            t.add("/certificates/upload"),
            // A chain and a key of up to 64 KiB each, form-encoded.
            post(certificates_page::upload).layer(DefaultBodyLimit::max(CERT_FORM_LIMIT)),
        )
        .route(
            t.add("/certificates/{service}/{action}"),
            post(certificates_page::act).layer(form_limit()),
        )
        .route(
            t.add("/checks"),
            get(checks_page::page)
                .post(checks_page::create)
                .layer(form_limit()),
        )
        .route(
            t.add("/checks/{name}/delete"),
            post(checks_page::delete).layer(form_limit()),
        )
        .route(
            t.add("/security/settings"),
            post(security_page::save_settings).layer(form_limit()),
        )
        .route(
            t.add("/security/blocks"),
            post(security_page::block).layer(form_limit()),
        )
        .route(
            t.add("/security/blocks/{id}/unblock"),
            post(security_page::unblock).layer(form_limit()),
        )
        .merge(alerting::routes(t))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            login::require_session,
        ))
        .route(t.add("/assets/{name}"), get(ui::asset))
        .route(t.add("/favicon.ico"), get(ui::favicon))
}
