//! Silences: create (editors and admins), list active and recently ended
//! ones with how many alerts each mutes now, expire early.

use crate::chart::ticks::datetime;
use crate::components::form::{
    csrf, error_for, field, general_error, notice, wide_field, FormError,
};
use crate::components::shell::Ctx;
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct SilenceRow {
    pub id: i64,
    pub matchers: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub author: String,
    pub comment: String,
    pub active: bool,
    /// Alerts it mutes right now.
    pub muting: usize,
}

/// What the new-silence form holds: empty, or what was refused.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub matchers: String,
    pub duration: String,
    pub comment: String,
    pub error: Option<FormError>,
}

pub fn body(
    ctx: &Ctx,
    rows: Vec<SilenceRow>,
    message: Option<String>,
    draft: Draft,
    can_edit: bool,
) -> AnyView {
    let form_token = ctx.csrf.clone();
    let rows = rows
        .into_iter()
        .map(|s| {
            let state = if s.active {
                view! { <span class="badge warn">"active"</span> }
            } else {
                view! { <span class="badge muted">"ended"</span> }
            };
            let expire = (s.active && can_edit).then(|| {
                let action = format!("/silences/{}/expire", s.id);
                view! {
                    <form method="post" class="inline" action=action>
                        {csrf(&form_token)}
                        <button type="submit">"Expire"</button>
                    </form>
                }
            });
            view! {
                <tr>
                    <td>{state}</td>
                    <td><code>{s.matchers}</code></td>
                    <td class="num">{s.muting}</td>
                    <td>{format!("{} UTC", datetime(s.starts_ms))}</td>
                    <td>{format!("{} UTC", datetime(s.ends_ms))}</td>
                    <td>{s.author}</td>
                    <td>{s.comment}</td>
                    <td>{expire}</td>
                </tr>
            }
        })
        .collect_view();
    let err = draft.error.as_ref();
    let duration = if draft.duration.is_empty() {
        "1h".to_string()
    } else {
        draft.duration.clone()
    };
    let form = can_edit.then(|| {
        view! {
            <form method="post" action="/silences" class="form silence">
                {csrf(&ctx.csrf)}
                <fieldset>
                    <legend>"New silence"</legend>
                    <div class="fields">
                        {wide_field(
                            "Matchers",
                            "Alerts whose labels all match are muted, e.g. alertname=\"DiskFull\", host=~\"web-.*\". A bare name means alertname.",
                            error_for(err, "matchers"),
                            view! { <input name="matchers" value=draft.matchers.clone() placeholder="alertname=\"DiskFull\", host=~\"web-.*\"" required/> },
                        )}
                        {field("Duration", "From now: 30m, 2h, 1d … up to 365d.", error_for(err, "duration"), view! {
                            <input name="duration" value=duration class="short" required/>
                        })}
                        {field("Comment", "Why: shown with the silence and in the audit log.", error_for(err, "comment"), view! {
                            <input name="comment" value=draft.comment.clone() maxlength="500" required/>
                        })}
                    </div>
                    <div class="actions"><button type="submit" class="primary">"Silence"</button></div>
                </fieldset>
            </form>
        }
    });
    view! {
        {notice(message, false)}
        {general_error(err)}
        {form}
        <h2>"Active and recently ended"</h2>
        <table class="data silences">
            <thead><tr><th>"State"</th><th>"Matchers"</th><th>"Muting now"</th><th>"Starts"</th><th>"Ends"</th><th>"By"</th><th>"Comment"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
