//! The error pages nginx serves for services: one global set and each
//! service's overrides. A template is shown in a sandboxed frame from its
//! own URL (no scripts, no access to dozor's origin), never inside
//! dozor's pages.

use crate::components::form::{csrf, error_for, general_error, notice, FormError};
use crate::components::shell::Ctx;
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct Status {
    pub status: u16,
    pub title: &'static str,
    /// Set for this scope (global: differs from dozor's; a service: its
    /// own override).
    pub custom: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Data {
    /// None: the global set.
    pub service: Option<String>,
    pub services: Vec<String>,
    pub statuses: Vec<Status>,
    /// The status being edited and its template.
    pub editing: Option<(u16, String)>,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub error: Option<FormError>,
}

fn scope_query(service: &Option<String>) -> String {
    match service {
        Some(s) => format!("service={s}&"),
        None => String::new(),
    }
}

pub fn body(ctx: &Ctx, d: Data) -> AnyView {
    let scope = scope_query(&d.service);
    let scopes = std::iter::once((None, "Every service".to_string()))
        .chain(d.services.iter().map(|s| (Some(s.clone()), s.clone())))
        .map(|(svc, label)| {
            let here = svc == d.service;
            let href = match &svc {
                Some(s) => format!("/error-pages?service={s}"),
                None => "/error-pages".into(),
            };
            view! { <a href=href class=here.then_some("active") aria-current=here.then_some("page")>{label}</a>" " }
        })
        .collect_view();
    let rows = d
        .statuses
        .iter()
        .map(|st| {
            let edit = format!("/error-pages?{}status={}", scope, st.status);
            let badge = if st.custom {
                view! { <span class="badge ok">"custom"</span> }.into_any()
            } else if d.service.is_some() {
                view! { <span class="badge muted">"global"</span> }.into_any()
            } else {
                view! { <span class="badge muted">"dozor's"</span> }.into_any()
            };
            view! {
                <tr>
                    <td>{st.status}</td><td>{st.title}</td><td>{badge}</td>
                    <td><a href=edit>{if d.can_edit { "Edit" } else { "View" }}</a></td>
                </tr>
            }
        })
        .collect_view();
    let editor = d.editing.clone().map(|(status, html)| {
        let preview = format!("/error-pages/preview?{}status={status}", scope);
        let err = d.error.as_ref();
        let form = d.can_edit.then(|| {
            let service = d.service.clone().unwrap_or_default();
            view! {
                <form method="post" action="/error-pages" class="form error-page-form">
                    {csrf(&ctx.csrf)}
                    <input type="hidden" name="service" value=service.clone()/>
                    <input type="hidden" name="status" value=status.to_string()/>
                    <label for="html">"Template (HTML, up to 256 KiB; "<code>"{{request_id}}"</code>" becomes the request's id)"</label>
                    {error_for(err, "html").map(|e| view! { <p class="field-error">{e}</p> })}
                    <textarea id="html" name="html" rows="18" class="code">{html.clone()}</textarea>
                    <div class="actions">
                        <button type="submit" name="do" value="save" class="primary">"Save"</button>" "
                        <button type="submit" name="do" value="reset" data-confirm="Go back to the default page?">{if service.is_empty() { "Reset to dozor's" } else { "Use the global page" }}</button>
                    </div>
                </form>
            }
        });
        view! {
            <h3>{format!("{status} page")}</h3>
            {form}
            <p class="hint">"Preview (saved version, sandboxed):"</p>
            <iframe class="error-preview" src=preview sandbox="" title="Error page preview"></iframe>
        }
    });
    view! {
        {notice(d.notice.clone(), false)}
        {general_error(d.error.as_ref())}
        <p class="tabs">{scopes}</p>
        <p class="hint">"nginx serves these when a service's members are all down, time out or are missing (502, 503, 504), and for the errors nginx makes itself. The request id on the page matches nginx's $request_id."</p>
        <table class="data">
            <thead><tr><th>"Status"</th><th>"Page"</th><th></th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {editor}
    }
    .into_any()
}
