//! The alerting and scraping pages' routes: alerts, rules, silences, the
//! Telegram settings and targets (all behind a session, merged into the
//! page router).

use super::{
    alerts_page, rules_editor, rules_page, silences, targets_admin, targets_page,
    telegram_settings, AppState,
};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub(crate) fn routes(t: &super::Paths) -> Router<AppState> {
    let form_limit = || DefaultBodyLimit::max(super::FORM_BODY_LIMIT);
    Router::new()
        .route(t.add("/alerts"), get(alerts_page::page))
        .route(
            t.add("/targets"),
            get(targets_page::page)
                .post(targets_admin::create)
                .layer(form_limit()),
        )
        .route(
            t.add("/targets/{id}/delete"),
            post(targets_admin::delete).layer(form_limit()),
        )
        .route(
            t.add("/silences"),
            get(silences::list)
                .post(silences::create)
                .layer(form_limit()),
        )
        .route(
            t.add("/silences/{id}/expire"),
            post(silences::expire).layer(form_limit()),
        )
        .route(t.add("/rules"), get(rules_page::list))
        .route(t.add("/rules/new"), get(rules_editor::new))
        .route(t.add("/rules/edit"), get(rules_editor::edit))
        .route(
            t.add("/rules/preview"),
            post(rules_editor::preview).layer(form_limit()),
        )
        .route(
            t.add("/rules/save"),
            post(rules_page::save).layer(form_limit()),
        )
        .route(
            t.add("/rules/delete"),
            post(rules_page::delete).layer(form_limit()),
        )
        .route(
            t.add("/rules/builtin"),
            post(rules_page::builtin_action).layer(form_limit()),
        )
        .route(t.add("/settings/telegram"), get(telegram_settings::page))
        .route(
            t.add("/settings/telegram/code"),
            post(telegram_settings::new_code).layer(form_limit()),
        )
        .route(
            t.add("/settings/telegram/token"),
            post(telegram_settings::set_token).layer(form_limit()),
        )
        .route(
            t.add("/settings/telegram/test"),
            post(telegram_settings::test_send).layer(form_limit()),
        )
        .route(
            t.add("/settings/telegram/unlink/{chat}"),
            post(telegram_settings::unlink).layer(form_limit()),
        )
}
