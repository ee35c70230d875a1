//! Explore: a PromQL box whose query lives in the URL, a chart of the
//! range result and a table of the instant result at the range's end.

use crate::chart::{self, Chart, Kind, Series, Unit};
use crate::components::panel::{Window, HEIGHT, WIDTH};
use crate::components::shell::Ctx;
use crate::dashboards::legend;
use crate::source::DataSource;
use leptos::prelude::*;

/// The `LINE:COL` a Prometheus-style parse error names, as a byte offset
/// into `query`.
pub fn error_offset(query: &str, message: &str) -> Option<usize> {
    let i = message.find(": parse error")?;
    let head = &message[..i];
    let pos = head.rsplit(' ').next()?;
    let (line, col) = pos.split_once(':')?;
    let (line, col): (usize, usize) = (line.parse().ok()?, col.parse().ok()?);
    let start = query
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let off = (start + col.saturating_sub(1)).min(query.len());
    query.is_char_boundary(off).then_some(off)
}

fn error_view(query: &str, message: String) -> AnyView {
    let marked = error_offset(query, &message).map(|off| {
        let rest = &query[off..];
        let n = rest.chars().next().map_or(0, char::len_utf8);
        let (at, after) = rest.split_at(n);
        let at = if at.is_empty() { " ".to_string() } else { at.to_string() };
        view! { <pre class="query-pos">{query[..off].to_string()}<mark class="err-pos">{at}</mark>{after.to_string()}</pre> }
    });
    view! { <div class="error"><p>{message}</p>{marked}</div> }.into_any()
}

pub async fn body(ctx: &Ctx, src: &dyn DataSource) -> AnyView {
    let query = ctx.view.param("query").unwrap_or("").to_string();
    let names = src.label_values("__name__", None).await.unwrap_or_default();
    let options = names
        .into_iter()
        .map(|n| view! { <option value=n></option> })
        .collect_view();
    let base = ctx.view.query_with(&[], false);
    let keep = form_urlencoded::parse(base.as_bytes())
        .map(|(k, v)| view! { <input type="hidden" name=k.into_owned() value=v.into_owned()/> })
        .collect_view();
    let form = view! {
        <form class="explore" method="get">
            {keep}
            <input id="query" name="query" list="metric-names" value=query.clone() placeholder="PromQL, e.g. rate(node_network_receive_bytes_total[5m])" autocomplete="off" spellcheck="false"/>
            <datalist id="metric-names">{options}</datalist>
            <button type="submit" class="primary">"Run"</button>
        </form>
    };
    if query.trim().is_empty() {
        return view! { {form}<p class="notice">"Type a PromQL expression. Metric names autocomplete."</p> }.into_any();
    }
    let w = Window {
        start_ms: ctx.view.start_ms,
        end_ms: ctx.view.end_ms,
        scrape_ms: src.scrape_interval_ms(),
    };
    let (start, end, step) = w.aligned();
    let (range, instant) = futures_util::join!(
        src.query_range(&query, start, end, step),
        src.query_instant(&query, ctx.view.end_ms)
    );
    let result = match (range, instant) {
        (Err(e), _) | (_, Err(e)) => error_view(&query, e.0),
        (Ok(series), Ok(rows)) => {
            let series: Vec<Series> = series
                .into_iter()
                .map(|s| Series {
                    name: legend("", &s.labels),
                    points: s.points,
                })
                .collect();
            let c = Chart {
                start,
                end,
                step,
                unit: Unit::Short,
                kind: Kind::Line,
                thresholds: vec![],
                y_max: None,
                bands: vec![],
                marks: vec![],
                width: WIDTH,
                height: HEIGHT,
            };
            let n = rows.len();
            let rows = rows
                .into_iter()
                .map(|r| view! { <tr><td class="series">{legend("", &r.labels)}</td><td class="num">{chart::format(r.value, Unit::Short)}</td></tr> })
                .collect_view();
            view! {
                <figure class="panel wide" data-kind="line"><figcaption>{format!("{n} series")}</figcaption>{chart::render(&c, &series)}</figure>
                <table class="data"><thead><tr><th>"Series"</th><th class="num">"Value at end"</th></tr></thead><tbody>{rows}</tbody></table>
            }
            .into_any()
        }
    };
    view! { {form}{result} }.into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_position_in_the_message() {
        let q = "sum(rate(x[5m])";
        let m = "invalid parameter \"query\": 1:4: parse error: unclosed left parenthesis";
        assert_eq!(error_offset(q, m), Some(3));
        assert_eq!(error_offset("a +\nfoo(", "2:4: parse error: x"), Some(7));
        assert_eq!(error_offset("x", "execution error"), None);
    }
}
