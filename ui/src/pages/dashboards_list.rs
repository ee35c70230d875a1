//! Every dashboard, built-in or from `--dashboards-dir`, including those
//! navigation leaves out because their metrics have no series yet.

use crate::components::shell::Ctx;
use crate::dashboards::Dashboard;
use leptos::prelude::*;

pub fn body(ctx: &Ctx, dashboards: &[Dashboard]) -> AnyView {
    // Opening one keeps the range this page was reached with.
    let query = ctx.view.query_with(&[], false);
    let rows = dashboards
        .iter()
        .map(|d| {
            let href = format!("/d/{}?{query}", d.slug);
            let panels: usize = d.rows.iter().map(|r| r.panels.len()).sum();
            let source = match &d.file {
                None => view! { <span class="badge">"built-in"</span> }.into_any(),
                Some(f) => view! { <code>{f.clone()}</code> }.into_any(),
            };
            let requires = d
                .requires
                .clone()
                .map(|m| view! { <span class="hint">"needs "<code>{m}</code></span> });
            view! {
                <tr>
                    <td><a href=href>{d.title.clone()}</a></td>
                    <td><code>{format!("/d/{}", d.slug)}</code></td>
                    <td>{source}</td>
                    <td class="num">{panels}</td>
                    <td>{requires}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="hint">
            "Built-in dashboards, and one per TOML file in the directory given with "
            <code>"--dashboards-dir"</code>
            " (a file with a built-in's slug replaces it). Navigation lists those whose metrics have series."
        </p>
        <table class="data dashboards">
            <thead><tr>
                <th>"Dashboard"</th><th>"Path"</th><th>"Source"</th><th class="num">"Panels"</th><th>"Shown when"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ViewState;

    #[test]
    fn lists_every_dashboard_with_its_source_and_panels() {
        let (mut ds, errors) = crate::dashboards::load_all(None);
        assert!(errors.is_empty());
        let mut mine = crate::dashboards::parse(
            "mine.toml",
            "title = \"<b>Mine</b>\"\n[[rows]]\ntitle = \"r\"\n[[rows.panels]]\ntitle = \"p\"\nqueries = [{expr = \"up\"}]\n",
        )
        .unwrap();
        mine.file = Some("mine.toml".into());
        ds.push(mine);
        let ctx = Ctx {
            version: "0".into(),
            csrf: String::new(),
            dashboards: Vec::new(),
            view: ViewState::from_query("range=24h", 0),
            base_url: String::new(),
            user: None,
        };
        let html = body(&ctx, &ds).to_html();
        assert_eq!(html.matches("<tr>").count(), ds.len() + 1);
        assert!(
            html.contains("<a href=\"/d/mine?range=24h\">&lt;b&gt;Mine&lt;/b&gt;</a>"),
            "{html}"
        );
        assert!(
            html.contains("<td><code>mine.toml</code></td><td class=\"num\">1</td>"),
            "{html}"
        );
        assert!(html.contains("href=\"/d/host?range=24h\""));
        assert_eq!(html.matches("\"badge\">built-in").count(), 4, "{html}");
    }
}
