//! Silences: create (editors and admins), list active and recently ended
//! ones with how many alerts each mutes now, expire early.

use crate::chart::ticks::datetime;
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

pub fn body(ctx: &Ctx, rows: Vec<SilenceRow>, notice: Option<String>, can_edit: bool) -> AnyView {
    let csrf = ctx.csrf.clone();
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
                        <input type="hidden" name="csrf" value=csrf.clone()/>
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
    let form = can_edit.then(|| {
        view! {
            <section>
                <h2>"New silence"</h2>
                <form method="post" action="/silences" class="inline">
                    <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
                    <input name="matchers" placeholder="alertname=\"DiskFull\", host=~\"web-.*\"" size="40" required/>
                    <input name="duration" value="1h" class="short" title="how long, e.g. 30m, 2h, 1d"/>
                    <input name="comment" placeholder="why" required/>
                    <button type="submit">"Silence"</button>
                </form>
            </section>
        }
    });
    view! {
        {notice.map(|n| view! { <p class="notice">{n}</p> })}
        {form}
        <table class="data silences">
            <thead><tr><th>"State"</th><th>"Matchers"</th><th>"Muting now"</th><th>"Starts"</th><th>"Ends"</th><th>"By"</th><th>"Comment"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
