//! The app shell: navigation in sections, the time-range and refresh
//! picker (on pages that draw data), theme toggle and version, around a
//! page's content.

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

/// One line of a navigation section's menu.
enum Entry {
    /// Active key, label, href.
    Link(String, String, String),
    /// A heading for the links after it.
    Group(&'static str),
}

fn entry(key: &str, label: &str, href: String) -> Entry {
    Entry::Link(key.to_string(), label.to_string(), href)
}

/// Whether the page under `active` draws data over time, so the range
/// picker means something there.
fn draws_data(active: &str) -> bool {
    matches!(
        active,
        "overview" | "explore" | "containers" | crate::pages::services::detail::ACTIVE
    ) || active.starts_with("/d/")
}

/// Whether the page under `active` belongs to the entry `key`: itself, or
/// one of its pages (`services/one` is under `services`).
fn is_under(active: &str, key: &str) -> bool {
    active == key
        || active
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The sections of the navigation: (title, entries).
fn sections(ctx: &Ctx) -> Vec<(&'static str, Vec<Entry>)> {
    let v = &ctx.view;
    // Data pages keep the range (and refresh) when moving between them.
    let link = |path: &str| format!("{path}?{}", v.query_with(&[], false));
    let mut monitoring = vec![
        entry("overview", "Overview", link("/")),
        entry("containers", "Containers", "/containers".to_string()),
        entry("explore", "Explore", link("/explore")),
        Entry::Group("Dashboards"),
        entry("dashboards", "All dashboards", link("/d")),
    ];
    for (slug, title) in &ctx.dashboards {
        let path = format!("/d/{slug}");
        monitoring.push(entry(&path, title, link(&path)));
    }
    let services = vec![
        entry("services", "Services", "/services".to_string()),
        entry("error-pages", "Error pages", "/error-pages".to_string()),
        entry("certificates", "Certificates", "/certificates".to_string()),
        entry("checks", "Checks", "/checks".to_string()),
        entry("security", "Security", "/security".to_string()),
    ];
    let alerting = vec![
        entry("alerts", "Alerts", "/alerts".to_string()),
        entry("rules", "Rules", "/rules".to_string()),
        entry("silences", "Silences", "/silences".to_string()),
        entry("telegram", "Telegram", "/settings/telegram".to_string()),
    ];
    let mut admin = vec![
        entry("agents", "Agents", link("/agents")),
        entry("targets", "Targets", "/targets".to_string()),
    ];
    if ctx.user.as_ref().is_some_and(|u| u.1 == "admin") {
        admin.push(entry("users", "Users", "/users".to_string()));
        admin.push(entry("audit", "Audit", "/audit".to_string()));
    }
    vec![
        ("Monitoring", monitoring),
        ("Services", services),
        ("Alerting", alerting),
        ("Admin", admin),
    ]
}

fn nav(ctx: &Ctx, active: &str) -> impl IntoView {
    let sections = sections(ctx)
        .into_iter()
        .map(|(title, entries)| {
            let here = entries
                .iter()
                .any(|e| matches!(e, Entry::Link(k, _, _) if is_under(active, k)));
            let items = entries
                .into_iter()
                .map(|e| match e {
                    Entry::Group(label) => view! { <span class="group">{label}</span> }.into_any(),
                    Entry::Link(key, label, href) => {
                        let current = is_under(active, &key);
                        view! {
                            <a href=href class=current.then_some("active")
                                aria-current=current.then_some("page")>{label}</a>
                        }
                        .into_any()
                    }
                })
                .collect_view();
            view! {
                <details class=if here { "section active" } else { "section" }>
                    <summary>{title}</summary>
                    <div class="menu">{items}</div>
                </details>
            }
        })
        .collect_view();
    let account = ctx.user.clone().map(|(name, role)| {
        let here = active == "account";
        view! {
            <details class=if here { "section account active" } else { "section account" }>
                <summary>{name.clone()}</summary>
                <div class="menu">
                    <span class="group who">{format!("{name} ({role})")}</span>
                    <a href="/account" class=here.then_some("active")
                        aria-current=here.then_some("page")>"Account and API tokens"</a>
                    <form method="post" action="/logout" class="inline user">
                        <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
                        <button type="submit">"Sign out"</button>
                    </form>
                </div>
            </details>
        }
    });
    view! { <nav class="nav" id="nav" aria-label="Main">{sections}{account}</nav> }
}

fn picker(v: &ViewState) -> impl IntoView {
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
    view! {
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
            <button type="submit" class="primary">"Apply"</button>
            <span class="tz">"UTC"</span>
        </form>
    }
}

/// The whole document for a page. `active` is the navigation key of the
/// page (`overview`, `rules`, `/d/<slug>`, …); it also decides whether the
/// range picker is shown.
pub fn document(ctx: &Ctx, title: &str, active: &str, content: AnyView) -> String {
    let (css, js) = crate::assets::names();
    let css = format!("/assets/{css}");
    let js = format!("/assets/{js}");
    let data = draws_data(active);
    let picker = data.then(|| picker(&ctx.view));
    // Auto-refresh would throw away what is being typed into a form.
    let refresh = if data {
        ctx.view.refresh.clone()
    } else {
        "off".into()
    };
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
            <body data-refresh=refresh>
                <header class="top">
                    <a class="brand" href="/">"dozor"</a>
                    // A checkbox, so the phone menu opens without script.
                    <input type="checkbox" id="nav-toggle" class="nav-toggle" aria-controls="nav"/>
                    <label for="nav-toggle" class="menu-button">"Menu"</label>
                    {nav(ctx, active)}
                    {picker}
                    <button class="theme-toggle" type="button" hidden title="Toggle light/dark theme">"◐"</button>
                    <span class="version">{format!("dozor {}", ctx.version)}</span>
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(role: &str) -> Ctx {
        Ctx {
            version: "0".into(),
            csrf: "t".into(),
            dashboards: vec![("mine".into(), "Mine".into())],
            view: ViewState::from_query("range=6h", 0),
            base_url: String::new(),
            user: Some(("ann".into(), role.into())),
        }
    }

    fn page(role: &str, active: &str) -> String {
        document(&ctx(role), "T", active, ().into_any())
    }

    #[test]
    fn the_picker_is_only_on_pages_that_draw_data() {
        for active in [
            "overview",
            "explore",
            "containers",
            "/d/mine",
            "services/one",
        ] {
            assert!(
                page("viewer", active).contains("class=\"picker\""),
                "{active}"
            );
        }
        for active in [
            "agents",
            "users",
            "rules",
            "telegram",
            "silences",
            "targets",
            "audit",
            "account",
            "alerts",
            "dashboards",
            "",
        ] {
            assert!(
                !page("admin", active).contains("class=\"picker\""),
                "{active}"
            );
        }
    }

    #[test]
    fn the_section_of_the_page_is_marked() {
        let html = page("viewer", "/d/mine");
        assert!(html.contains("<details class=\"section active\"><summary>Monitoring</summary>"));
        assert!(
            html.contains("href=\"/d/mine?range=6h\" aria-current=\"page\" class=\"active\""),
            "{html}"
        );
        assert_eq!(html.matches("aria-current").count(), 1);
        let html = page("viewer", "telegram");
        assert!(html.contains("<details class=\"section active\"><summary>Alerting</summary>"));
        let html = page("viewer", "dashboards");
        assert!(
            html.contains("href=\"/d?range=6h\" aria-current=\"page\" class=\"active\""),
            "{html}"
        );
        let html = page("viewer", "account");
        assert!(html.contains("section account active"));
    }

    #[test]
    fn users_and_audit_are_for_admins() {
        assert!(!page("editor", "overview").contains("href=\"/users\""));
        let html = page("admin", "overview");
        assert!(html.contains("href=\"/users\"") && html.contains("href=\"/audit\""));
    }
}
