//! Containers across every host, from the collectors' latest reports.

use crate::components::containers::table;
use crate::components::shell::Ctx;
use crate::source::DataSource;
use leptos::prelude::*;

pub async fn body(_ctx: &Ctx, src: &dyn DataSource) -> AnyView {
    match src.containers(None).await {
        Ok(rows) if rows.is_empty() => view! {
            <p class="notice">"No containers reported yet. Collectors report the containers of hosts whose Docker socket they can read."</p>
        }
        .into_any(),
        Ok(rows) => table(rows, src.now_ms(), true),
        Err(e) => view! { <p class="notice error">{format!("Cannot list containers: {e}")}</p> }.into_any(),
    }
}
