//! A dashboard from a file: variable pickers, then rows of panels whose
//! queries run concurrently.

use crate::components::panel::{self, Window};
use crate::components::shell::Ctx;
use crate::dashboards::Dashboard;
use crate::source::DataSource;
use futures_util::future::join_all;
use leptos::prelude::*;

/// Resolved variable values: the URL's `var-NAME`, else `fixed`, else the
/// first value the label has.
pub async fn variables(
    ctx: &Ctx,
    src: &dyn DataSource,
    d: &Dashboard,
    fixed: &[(String, String)],
) -> (Vec<(String, String)>, Vec<(String, Vec<String>)>) {
    let mut vars = Vec::new();
    let mut choices = Vec::new();
    for v in &d.variables {
        if let Some((_, val)) = fixed.iter().find(|(k, _)| *k == v.name) {
            vars.push((v.name.clone(), val.clone()));
            continue;
        }
        let values = src
            .label_values(&v.label, v.selector.as_deref())
            .await
            .unwrap_or_default();
        let chosen = ctx
            .view
            .param(&format!("var-{}", v.name))
            .map(str::to_string)
            .or_else(|| values.first().cloned())
            .unwrap_or_default();
        vars.push((v.name.clone(), chosen));
        choices.push((v.name.clone(), values));
    }
    (vars, choices)
}

pub async fn body(
    ctx: &Ctx,
    src: &dyn DataSource,
    d: &Dashboard,
    fixed: &[(String, String)],
) -> AnyView {
    let (vars, choices) = variables(ctx, src, d, fixed).await;
    let w = Window {
        start_ms: ctx.view.start_ms,
        end_ms: ctx.view.end_ms,
        scrape_ms: src.scrape_interval_ms(),
    };
    let names = if d
        .rows
        .iter()
        .flat_map(|r| &r.panels)
        .any(|p| p.requires.is_some())
    {
        src.label_values("__name__", None).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let shown =
        |p: &&crate::dashboards::Panel| p.requires.as_ref().is_none_or(|m| names.contains(m));
    let panels: Vec<_> = d
        .rows
        .iter()
        .flat_map(|r| r.panels.iter())
        .filter(shown)
        .collect();
    let data = join_all(panels.iter().map(|p| panel::fetch(src, p, &vars, &w))).await;
    let mut data = data.into_iter();
    let rows = d
        .rows
        .iter()
        .filter(|row| row.panels.iter().any(|p| shown(&p)))
        .map(|row| {
            let panels = row
                .panels
                .iter()
                .filter(shown)
                .map(|p| panel::render(p, data.next().expect("one result per panel")))
                .collect_view();
            view! { <section class="row"><h2>{row.title.clone()}</h2><div class="panels">{panels}</div></section> }
        })
        .collect_view();
    let pickers = (!choices.is_empty()).then(|| {
        let keep = ctx
            .view
            .params
            .iter()
            .filter(|(k, _)| !k.starts_with("var-"))
            .map(|(k, v)| view! { <input type="hidden" name=k.clone() value=v.clone()/> })
            .collect_view();
        // Range and refresh as the URL has them (from/to when custom).
        let base = ctx.view.query_with(&[], false);
        let range = form_urlencoded::parse(base.as_bytes())
            .map(|(k, v)| view! { <input type="hidden" name=k.into_owned() value=v.into_owned()/> })
            .collect_view();
        let selects = choices
            .into_iter()
            .map(|(name, values)| {
                let current = vars.iter().find(|(k, _)| *k == name).map(|x| x.1.clone()).unwrap_or_default();
                let opts = values
                    .into_iter()
                    .map(|v| view! { <option selected=v == current value=v.clone()>{v.clone()}</option> })
                    .collect_view();
                view! { <label>{name.clone()} " " <select name=format!("var-{name}")>{opts}</select></label> }
            })
            .collect_view();
        view! { <form class="vars" method="get">{keep}{range}{selects}<button type="submit">"Show"</button></form> }
    });
    view! { {pickers}{rows} }.into_any()
}
