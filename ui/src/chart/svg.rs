//! Server-rendered SVG charts. The step grid of the query is the x grid:
//! a step with no value breaks the line (no lines across outages). The
//! raw values also go into a `data-chart` attribute (JSON, attribute-
//! escaped) for the hover tooltip in `dozor.js`.

use super::ticks::{datetime, time_ticks, value_ticks};
use super::units::{format, Unit};
use leptos::prelude::*;
use std::fmt::Write;

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

/// For stacked charts, (base, top) per step for each series in order.
fn stack(values: &[Vec<Option<f64>>]) -> Vec<Vec<Option<(f64, f64)>>> {
    let n = values.first().map_or(0, Vec::len);
    let mut base = vec![0.0; n];
    values
        .iter()
        .map(|vs| {
            vs.iter()
                .enumerate()
                .map(|(k, v)| {
                    v.map(|v| {
                        let b = base[k];
                        base[k] += v;
                        (b, b + v)
                    })
                })
                .collect()
        })
        .collect()
}

/// SVG path data for runs of present points: `M x y L x y …` per run.
/// Whole viewBox units: a chart is ~800 units wide, so finer is invisible
/// and only adds page weight.
pub fn line_path(xs: &[f64], ys: &[Option<f64>]) -> String {
    let mut d = String::new();
    let mut pen = false;
    for (x, y) in xs.iter().zip(ys) {
        match y {
            Some(y) => {
                let _ = write!(d, "{}{:.0} {:.0}", if pen { "L" } else { "M" }, x, y);
                pen = true;
            }
            None => pen = false,
        }
    }
    d
}

/// Closed areas between `lo` and `hi` for runs of present points.
pub fn area_path(xs: &[f64], band: &[Option<(f64, f64)>]) -> String {
    let mut d = String::new();
    let mut k = 0;
    while k < band.len() {
        if band[k].is_none() {
            k += 1;
            continue;
        }
        let run_start = k;
        while k < band.len() && band[k].is_some() {
            k += 1;
        }
        let run = run_start..k;
        for (j, i) in run.clone().enumerate() {
            let (_, hi) = band[i].expect("inside run");
            let _ = write!(
                d,
                "{}{:.0} {:.0}",
                if j == 0 { "M" } else { "L" },
                xs[i],
                hi
            );
        }
        for i in run.rev() {
            let (lo, _) = band[i].expect("inside run");
            let _ = write!(d, "L{:.0} {:.0}", xs[i], lo);
        }
        d.push('Z');
    }
    d
}

/// Four significant digits: enough for a tooltip, small in the page.
fn compact(v: f64) -> serde_json::Value {
    if v == 0.0 || !v.is_finite() {
        return serde_json::json!(if v.is_finite() { 0.0 } else { f64::NAN });
    }
    let p = 10f64.powi(3 - v.abs().log10().floor() as i32);
    serde_json::json!((v * p).round() / p)
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
    let xs: Vec<f64> = (0..n).map(|k| tx(c.start + k as i64 * c.step)).collect();

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
    let paths = (0..values.len())
        .map(|i| {
            let class = format!("s c{}", i % 10);
            let (d, fill) = match (&stacked, c.kind) {
                (Some(st), _) => {
                    let band: Vec<_> = st[i]
                        .iter()
                        .map(|b| b.map(|(l, t)| (ty(l), ty(t))))
                        .collect();
                    (area_path(&xs, &band), true)
                }
                (None, Kind::Area) => {
                    let band: Vec<_> = values[i]
                        .iter()
                        .map(|v| v.map(|v| (ty(0f64.max(y0)), ty(v))))
                        .collect();
                    (area_path(&xs, &band), true)
                }
                _ => {
                    let ys: Vec<_> = values[i].iter().map(|v| v.map(ty)).collect();
                    (line_path(&xs, &ys), false)
                }
            };
            let class = if fill { format!("{class} fill") } else { class };
            view! { <path class=class data-i=i d=d></path> }
        })
        .collect_view();
    let data = serde_json::json!({
        "t0": c.start,
        "step": c.step,
        "unit": c.unit.name(),
        "x0": LEFT, "x1": w - RIGHT, "w": w,
        "s": series.iter().zip(&values).map(|(s, v)| serde_json::json!({
            "n": s.name,
            "v": v.iter().map(|x| x.map(compact)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
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
                <g class="series">{paths}</g>
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
    fn gaps_break_lines() {
        let d = line_path(
            &[0.0, 1.0, 2.0, 3.0],
            &[Some(5.0), Some(6.0), None, Some(7.0)],
        );
        assert_eq!(d, "M0 5L1 6M3 7");
    }

    #[test]
    fn areas_close_over_their_base() {
        let d = area_path(
            &[0.0, 1.0, 2.0],
            &[Some((10.0, 4.0)), Some((10.0, 2.0)), None],
        );
        assert_eq!(d, "M0 4L1 2L1 10L0 10Z");
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
        let st = stack(&g);
        assert_eq!(st[1][0], Some((1.0, 4.0)));
        assert_eq!(st[1][4], Some((0.0, 9.0)));
        let html = render(&c, &s).to_html();
        // One path per series, each with one run of points per segment.
        assert_eq!(html.matches("<path").count(), 2);
        assert!(html.contains("data-chart="));
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
