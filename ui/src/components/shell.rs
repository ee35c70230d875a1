//! The app shell: navigation, time-range and refresh picker, theme toggle
//! and version, around a page's content.

use crate::state::{input_time, ViewState, PRESETS, REFRESH};
use leptos::prelude::*;

/// What every page needs besides its data.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub version: String,
    /// Double-submit CSRF token for forms (also set as a cookie).
    pub csrf: String,
    /// Dashboards shown in navigation: (slug, title).
    pub dashboards: Vec<(String, String)>,
    pub view: ViewState,
    /// Scheme and host the browser used, for copyable commands.
    pub base_url: String,
    /// The signed-in user and role, shown with a sign-out button.
    pub user: Option<(String, String)>,
}

/// The whole document for a page.
pub fn document(ctx: &Ctx, title: &str, active: &str, content: AnyView) -> String {
    let (css, js) = crate::assets::names();
    let css = format!("/assets/{css}");
    let js = format!("/assets/{js}");
    let v = &ctx.view;
    let link = |path: &str| format!("{path}?{}", v.query_with(&[], false));
    let mut nav = vec![
        ("overview", "Overview".to_string(), link("/")),
        ("explore", "Explore".to_string(), link("/explore")),
        (
            "containers",
            "Containers".to_string(),
            "/containers".to_string(),
        ),
    ];
    for (slug, t) in &ctx.dashboards {
        nav.push(("", t.clone(), link(&format!("/d/{slug}"))));
    }
    nav.push(("alerts", "Alerts".to_string(), "/alerts".to_string()));
    nav.push(("rules", "Rules".to_string(), "/rules".to_string()));
    nav.push(("silences", "Silences".to_string(), "/silences".to_string()));
    nav.push((
        "telegram",
        "Telegram".to_string(),
        "/settings/telegram".to_string(),
    ));
    nav.push(("agents", "Agents".to_string(), link("/agents")));
    nav.push(("targets", "Targets".to_string(), "/targets".to_string()));
    if ctx.user.as_ref().is_some_and(|u| u.1 == "admin") {
        nav.push(("users", "Users".to_string(), "/users".to_string()));
        nav.push(("audit", "Audit".to_string(), "/audit".to_string()));
    }
    if ctx.user.is_some() {
        nav.push(("account", "Account".to_string(), "/account".to_string()));
    }
    let nav = nav
        .into_iter()
        .map(|(key, label, href)| {
            let class = if !key.is_empty() && key == active {
                "active"
            } else {
                ""
            };
            let class = if key.is_empty() && active == href.split('?').next().unwrap_or("") {
                "active"
            } else {
                class
            };
            view! { <a href=href class=class>{label}</a> }
        })
        .collect_view();
    let hidden = v
        .params
        .iter()
        .map(|(k, val)| view! { <input type="hidden" name=k.clone() value=val.clone()/> })
        .collect_view();
    let presets = PRESETS
        .iter()
        .map(|(p, _)| view! { <option value=*p selected=v.range == *p>{*p}</option> })
        .collect_view();
    let refresh = REFRESH
        .iter()
        .map(|r| view! { <option value=*r selected=v.refresh == *r>{*r}</option> })
        .collect_view();
    let (from, to) = (input_time(v.start_ms), input_time(v.end_ms));
    let page_title = format!("{title} · dozor");
    let body = view! {
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>{page_title}</title>
                <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" href=css/>
                <script src=js defer></script>
            </head>
            <body data-refresh=v.refresh.clone()>
                <header class="top">
                    <a class="brand" href="/">"dozor"</a>
                    <nav class="nav">{nav}</nav>
                    <form class="picker" method="get">
                        {hidden}
                        <label>"Range "
                            <select name="range">
                                {presets}
                                <option value="custom" selected=v.range == "custom">"custom"</option>
                            </select>
                        </label>
                        <label>"From " <input type="datetime-local" name="from" value=from/></label>
                        <label>"To " <input type="datetime-local" name="to" value=to/></label>
                        <label>"Refresh " <select name="refresh">{refresh}</select></label>
                        <button type="submit">"Apply"</button>
                        <span class="tz">"UTC"</span>
                    </form>
                    <button class="theme-toggle" type="button" hidden title="Toggle light/dark theme">"◐"</button>
                    <span class="version">{format!("dozor {}", ctx.version)}</span>
                    {ctx.user.clone().map(|(name, role)| view! {
                        <form method="post" action="/logout" class="inline user">
                            <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
                            <span class="who">{format!("{name} ({role})")}</span>
                            <button type="submit">"Sign out"</button>
                        </form>
                    })}
                </header>
                <main id="main">{content}</main>
            </body>
        </html>
    };
    // `<!>` marks text-node boundaries for hydration, which dozor never
    // does; it is also an HTML parse error. User text cannot produce it
    // (every `<` in text is escaped).
    format!("<!DOCTYPE html>{}", body.to_html().replace("<!>", ""))
}
