//! Dashboard panels: each query goes through the one PromQL path; charts
//! are range queries at a step that keeps ≤ 300 points, stats and tables
//! are instant queries at the range's end.

use crate::chart::{self, ticks::choose_step, Chart, Series};
use crate::dashboards::{legend, substitute, Panel, PanelType};
use crate::source::{DataSource, InstantData, Labels};
use leptos::prelude::*;

pub const WIDTH: f64 = 800.0;
pub const HEIGHT: f64 = 220.0;

/// A panel's data, fetched before rendering.
pub enum PanelData {
    Chart { chart: Chart, series: Vec<Series> },
    Instant(Vec<(String, Vec<InstantData>)>),
    Failed(String),
}

pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    pub scrape_ms: i64,
}

impl Window {
    /// The range-query step, aligned so that steps land on the same
    /// timestamps as the range moves (and rollups can serve them).
    pub fn step(&self) -> i64 {
        choose_step(self.end_ms - self.start_ms, self.scrape_ms)
    }

    pub fn aligned(&self) -> (i64, i64, i64) {
        let step = self.step();
        let end = self.end_ms.div_euclid(step) * step;
        let start = self.start_ms.div_euclid(step) * step;
        (start, end, step)
    }
}

pub async fn fetch(
    src: &dyn DataSource,
    panel: &Panel,
    vars: &[(String, String)],
    w: &Window,
) -> PanelData {
    let (start, end, step) = w.aligned();
    match panel.kind {
        PanelType::Stat | PanelType::Table => {
            let mut out = Vec::new();
            for q in &panel.queries {
                let expr = substitute(&q.expr, vars, step, w.scrape_ms);
                match src.query_instant(&expr, w.end_ms).await {
                    Ok(rows) => out.push((q.legend.clone(), rows)),
                    Err(e) => return PanelData::Failed(e.0),
                }
            }
            PanelData::Instant(out)
        }
        kind => {
            let mut series = Vec::new();
            for q in &panel.queries {
                let expr = substitute(&q.expr, vars, step, w.scrape_ms);
                match src.query_range(&expr, start, end, step).await {
                    Ok(rs) => series.extend(rs.into_iter().map(|s| Series {
                        name: legend(&q.legend, &s.labels),
                        points: s.points,
                    })),
                    Err(e) => return PanelData::Failed(e.0),
                }
            }
            PanelData::Chart {
                chart: Chart {
                    start,
                    end,
                    step,
                    unit: panel.unit,
                    kind: kind.chart_kind(),
                    thresholds: panel.thresholds.clone(),
                    y_max: panel.max,
                    bands: vec![],
                    marks: vec![],
                    width: WIDTH,
                    height: HEIGHT,
                },
                series,
            }
        }
    }
}

fn level(v: f64, thresholds: &[f64]) -> &'static str {
    match thresholds {
        [_, crit, ..] if v >= *crit => "value crit",
        [warn, ..] if v >= *warn => "value warn",
        _ => "value",
    }
}

type RowKey = Vec<(String, String)>;

/// Labels that tell rows apart (not `__name__` or `host`, shown elsewhere).
fn row_key(l: &Labels) -> RowKey {
    l.iter()
        .filter(|(k, _)| k.as_str() != "__name__" && k.as_str() != "host")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn table(panel: &Panel, cols: &[(String, Vec<InstantData>)]) -> AnyView {
    let mut keys: Vec<String> = Vec::new();
    let mut rows: Vec<(RowKey, Vec<Option<f64>>)> = Vec::new();
    for (c, (_, data)) in cols.iter().enumerate() {
        for d in data {
            let key = row_key(&d.labels);
            for (k, _) in &key {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
            let i = match rows.iter().position(|r| r.0 == key) {
                Some(i) => i,
                None => {
                    rows.push((key, vec![None; cols.len()]));
                    rows.len() - 1
                }
            };
            rows[i].1[c] = Some(d.value);
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let head = keys
        .iter()
        .map(|k| (k.clone(), ""))
        .chain(cols.iter().map(|(l, _)| (l.clone(), "num")))
        .map(|(k, class)| view! { <th class=class>{k}</th> })
        .collect_view();
    let unit = panel.unit;
    let body = rows
        .into_iter()
        .map(|(key, vals)| {
            let labels = keys
                .iter()
                .map(|k| {
                    let v = key.iter().find(|(kk, _)| kk == k).map(|x| x.1.clone());
                    view! { <td>{v.unwrap_or_default()}</td> }
                })
                .collect_view();
            let nums = vals
                .into_iter()
                .map(|v| view! { <td class="num">{v.map(|v| chart::format(v, unit)).unwrap_or_default()}</td> })
                .collect_view();
            view! { <tr>{labels}{nums}</tr> }
        })
        .collect_view();
    view! { <table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table> }
        .into_any()
}

pub fn render(panel: &Panel, data: PanelData) -> AnyView {
    let inner = match data {
        PanelData::Failed(e) => view! { <p class="notice error">{e}</p> }.into_any(),
        PanelData::Chart { chart, series } => chart::render(&chart, &series),
        PanelData::Instant(cols) if panel.kind == PanelType::Table => table(panel, &cols),
        PanelData::Instant(cols) => {
            let stats = cols
                .into_iter()
                .flat_map(|(tmpl, rows)| {
                    rows.into_iter().map(move |r| (legend(&tmpl, &r.labels), r.value))
                })
                .map(|(name, v)| {
                    let class = level(v, &panel.thresholds);
                    view! { <div class="stat"><span class=class>{chart::format(v, panel.unit)}</span><span class="label">{name}</span></div> }
                })
                .collect_view();
            view! { <div class="stats">{stats}</div> }.into_any()
        }
    };
    view! {
        <figure class="panel" data-kind=panel.kind.name()>
            <figcaption>{panel.title.clone()}</figcaption>
            {inner}
        </figure>
    }
    .into_any()
}
