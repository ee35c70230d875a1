//! Server-rendered SVG charts. The step grid of the query is the x grid:
//! a step with no value breaks the line (no lines across outages). Series
//! are drawn in data coordinates (`paths.rs`), which is also where the
//! hover tooltip in `dozor.js` reads their values: the `data-chart`
//! attribute (JSON, attribute-escaped) carries only names and the scale.

use super::paths::{self, area_path, band_path, line_path, stack};
use super::ticks::{datetime, time_ticks, value_ticks};
use super::units::{format, Unit};
use leptos::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// (timestamp ms, value), oldest first, on the query's step grid.
    pub points: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Line,
    Area,
    Stacked,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub start: i64,
    pub end: i64,
    pub step: i64,
    pub unit: Unit,
    pub kind: Kind,
    pub thresholds: Vec<f64>,
    /// Fixed top of the y axis (100 for percent panels), when set.
    pub y_max: Option<f64>,
    /// Shaded time ranges (where a rule would have fired).
    pub bands: Vec<(i64, i64)>,
    /// Events drawn as vertical lines over the plot (a scale, a deploy):
    /// time and the text shown on hover.
    pub marks: Vec<(i64, String)>,
    pub width: f64,
    pub height: f64,
}

const LEFT: f64 = 62.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 22.0;

/// Values of each series on the step grid; None where a step is missing.
pub fn grid(c: &Chart, series: &[Series]) -> Vec<Vec<Option<f64>>> {
    let n = ((c.end - c.start) / c.step.max(1) + 1).max(0) as usize;
    series
        .iter()
        .map(|s| {
            let mut v = vec![None; n];
            for &(t, x) in &s.points {
                let k = (t - c.start) / c.step.max(1);
                if (t - c.start) % c.step.max(1) == 0 && (0..n as i64).contains(&k) && x.is_finite()
                {
                    v[k as usize] = Some(x);
                }
            }
            v
        })
        .collect()
}

pub fn render(c: &Chart, series: &[Series]) -> AnyView {
    let values = grid(c, series);
    let stacked = (c.kind == Kind::Stacked).then(|| stack(&values));
    let (w, h) = (c.width, c.height);
    let (pw, ph) = (w - LEFT - RIGHT, h - TOP - BOTTOM);
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let mut see = |v: f64| {
        lo = lo.min(v);
        hi = hi.max(v);
    };
    match &stacked {
        Some(st) => st.iter().flatten().flatten().for_each(|(_, t)| see(*t)),
        None => values.iter().flatten().flatten().for_each(|v| see(*v)),
    }
    c.thresholds.iter().for_each(|t| see(*t));
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    lo = lo.min(0.0);
    if let Some(m) = c.y_max {
        if hi <= m {
            hi = m;
        }
    }
    let ticks = value_ticks(lo, hi, 4, c.unit.base());
    let (y0, y1) = (ticks[0], *ticks.last().unwrap_or(&1.0));
    let span = if y1 > y0 { y1 - y0 } else { 1.0 };
    let ty = move |v: f64| TOP + ph - (v - y0) / span * ph;
    let tspan = (c.end - c.start).max(1) as f64;
    let tx = move |t: i64| LEFT + (t - c.start) as f64 / tspan * pw;
    let n = values.first().map_or(0, Vec::len);
    // Data coordinates (step index, value / 10^e) onto the plot: one
    // transform for every series path.
    let e = paths::exponent(y0, y1);
    let scale = 10f64.powi(e);
    let transform = format!(
        "matrix({} 0 0 {} {} {})",
        c.step.max(1) as f64 / tspan * pw,
        -ph / span * scale,
        LEFT,
        TOP + ph + y0 / span * ph
    );
    let grid_lines = ticks
        .iter()
        .map(|v| {
            let y = format!("{:.1}", ty(*v));
            let label = format(*v, c.unit);
            view! {
                <line class="grid" x1=LEFT x2=w - RIGHT y1=y.clone() y2=y.clone()></line>
                <text class="ylabel" x=LEFT - 6.0 y=y text-anchor="end" dominant-baseline="middle">{label}</text>
            }
        })
        .collect_view();
    let time_lines = time_ticks(c.start, c.end, 8)
        .into_iter()
        .map(|(t, label)| {
            let x = format!("{:.1}", tx(t));
            view! {
                <line class="tick" x1=x.clone() x2=x.clone() y1=TOP + ph y2=TOP + ph + 4.0></line>
                <text class="xlabel" x=x y=h - 6.0 text-anchor="middle">{label}</text>
            }
        })
        .collect_view();
    let thresholds = c
        .thresholds
        .iter()
        .map(|t| {
            let y = format!("{:.1}", ty(*t));
            view! { <line class="threshold" x1=LEFT x2=w - RIGHT y1=y.clone() y2=y></line> }
        })
        .collect_view();
    let bands = c
        .bands
        .iter()
        .map(|(s, e)| {
            // A one-step band is still visible.
            let x0 = tx(*s);
            let x1 = tx(*e + c.step).min(w - RIGHT);
            let width = format!("{:.1}", (x1 - x0).max(1.0));
            view! { <rect class="fired" x=format!("{x0:.1}") y=TOP width=width height=ph></rect> }
        })
        .collect_view();
    let marks = c
        .marks
        .iter()
        .filter(|(t, _)| (c.start..=c.end).contains(t))
        .map(|(t, text)| {
            let x = format!("{:.1}", tx(*t));
            view! {
                <line class="mark" x1=x.clone() x2=x y1=TOP y2=TOP + ph>
                    <title>{text.clone()}</title>
                </line>
            }
        })
        .collect_view();
    let digits = if stacked.is_some() {
        paths::STACKED_DIGITS
    } else {
        paths::DIGITS
    };
    let scaled = |v: f64| v / scale;
    let paths = (0..values.len())
        .map(|i| {
            let class = format!("s c{}", i % 10);
            let (d, fill) = match (&stacked, c.kind) {
                (Some(st), _) => {
                    let band: Vec<_> = st[i]
                        .iter()
                        .map(|b| b.map(|(l, t)| (scaled(l), scaled(t))))
                        .collect();
                    (band_path(&band, digits), true)
                }
                (None, Kind::Area) => {
                    let ys: Vec<_> = values[i].iter().map(|v| v.map(scaled)).collect();
                    (area_path(&ys, scaled(0f64.max(y0)), digits), true)
                }
                _ => {
                    let ys: Vec<_> = values[i].iter().map(|v| v.map(scaled)).collect();
                    (line_path(&ys, digits), false)
                }
            };
            let class = if fill { format!("{class} fill") } else { class };
            view! { <path class=class data-i=i d=d></path> }
        })
        .collect_view();
    let kind = match (&stacked, c.kind) {
        (Some(_), _) => "stacked",
        (None, Kind::Area) => "area",
        _ => "line",
    };
    let data = serde_json::json!({
        "t0": c.start,
        "step": c.step,
        "n": n,
        "e": e,
        "k": kind,
        "unit": c.unit.name(),
        "x0": LEFT, "x1": w - RIGHT, "w": w,
        "s": series.iter().map(|s| serde_json::json!({ "n": s.name })).collect::<Vec<_>>(),
    })
    .to_string();
    let legend = series
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, (s, v))| {
            let last = v.iter().rev().flatten().next().map(|x| format(*x, c.unit));
            let sw = format!("sw c{}", i % 10);
            view! {
                <li data-i=i><span class=sw></span>{s.name.clone()}
                    <span class="last">{last.unwrap_or_default()}</span></li>
            }
        })
        .collect_view();
    let empty = series.is_empty() || values.iter().all(|v| v.iter().all(Option::is_none));
    let view_box = format!("0 0 {w} {h}");
    let title = format!("{} – {} UTC", datetime(c.start), datetime(c.end));
    view! {
        <div class="chart" data-chart=data data-start=c.start data-end=c.end>
            <svg class="plot" viewBox=view_box role="img" aria-label=title>
                <g class="bands">{bands}</g>
                <g class="axes">{grid_lines}{time_lines}</g>
                <g class="series" transform=transform>{paths}</g>
                {thresholds}
                <g class="marks">{marks}</g>
                {empty.then(|| view! { <text class="nodata" x=w / 2.0 y=h / 2.0 text-anchor="middle">"No data"</text> })}
            </svg>
            <ul class="legend">{legend}</ul>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: Kind) -> Chart {
        Chart {
            start: 0,
            end: 40_000,
            step: 10_000,
            unit: Unit::Short,
            kind,
            thresholds: vec![],
            y_max: None,
            bands: vec![],
            marks: vec![],
            width: 400.0,
            height: 200.0,
        }
    }

    #[test]
    fn grid_places_points_on_steps_and_stacks() {
        let c = chart(Kind::Stacked);
        let s = vec![
            Series {
                name: "a".into(),
                points: vec![(0, 1.0), (10_000, 2.0), (30_000, 1.0)],
            },
            Series {
                name: "b".into(),
                points: vec![(0, 3.0), (10_000, 3.0), (40_000, 9.0)],
            },
        ];
        let g = grid(&c, &s);
        assert_eq!(g[0], vec![Some(1.0), Some(2.0), None, Some(1.0), None]);
        let html = render(&c, &s).to_html();
        // One path per series, in data coordinates (the axis tops at 10,
        // so values are written divided by 10): series b's band goes out on
        // its top and back on a's.
        assert_eq!(html.matches("<path").count(), 2);
        assert!(
            html.contains(r#"d="M0 0.1L1 0.2L1 0L0 0ZM3 0.1L3 0Z""#),
            "{html}"
        );
        assert!(
            html.contains(r#"d="M0 0.4L1 0.5L1 0.2L0 0.1ZM4 0.9L4 0Z""#),
            "{html}"
        );
        // The JSON holds names and the scale, not the points again.
        assert!(html.contains("data-chart="));
        assert!(!html.contains("&quot;v&quot;"), "{html}");
    }

    #[test]
    fn labels_are_escaped() {
        let s = vec![Series {
            name: "<script>alert(1)</script>\"><img src=x onerror=alert(2)>".into(),
            points: vec![(0, 1.0)],
        }];
        let html = render(&chart(Kind::Line), &s).to_html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn marks_inside_the_range_are_drawn_with_their_text_escaped() {
        let mut c = chart(Kind::Line);
        c.marks = vec![(20_000, "up 1 → 3 <b>".into()), (90_000, "outside".into())];
        let s = vec![Series {
            name: "replicas".into(),
            points: vec![(0, 1.0), (20_000, 3.0)],
        }];
        let html = render(&c, &s).to_html();
        assert_eq!(html.matches("class=\"mark\"").count(), 1, "{html}");
        assert!(html.contains("up 1 → 3 &lt;b&gt;"), "{html}");
        assert!(!html.contains("outside"));
    }
}
