//! One module per page. Each `body` gathers its data through
//! [`crate::DataSource`] and returns the page content for the shell.

pub mod account;
pub mod agents;
pub mod alerts;
pub mod auth;
pub mod certificates;
pub mod checks;
pub mod container;
pub mod containers;
pub mod dashboard;
pub mod dashboards_list;
pub mod explore;
pub mod getting_started;
pub mod host;
pub mod overview;
pub mod rules;
pub mod security;
pub mod services;
pub mod silences;
pub mod targets;
pub mod telegram;
pub mod users;

use leptos::prelude::*;

pub fn not_found() -> AnyView {
    view! { <p class="notice error">"No such page."</p> }.into_any()
}
