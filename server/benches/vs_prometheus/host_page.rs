//! The host page's shape: this machine's own host series, as dozor's
//! collector reads them from `/proc` and `/sys`, played over 24 h at 15 s,
//! and every panel query of the host dashboard (`dashboards/host.toml`)
//! asked of both sides, one after another as the page asks them.

use super::{median, status_kb, Prometheus, DAY_MS};
use dozor_collector::output::Output;
use dozor_collector::proc::HostInput;
use dozor_common::{Sample, SeriesBatch};
use dozor_ui::dashboards::{self, PanelType};
use std::time::Instant;

pub const HOST: &str = "bench-host";

/// The page's step over 24 h (`ui` picks 5 minutes for a day).
const STEP_MS: i64 = 300_000;

/// The host's series now, made into a day: counters (`_total`, as
/// node_exporter names them) climb from their current value by a varying
/// increment, gauges wave around theirs.
pub fn data(now: i64) -> Vec<SeriesBatch> {
    let mut out = Output::new(now);
    // A read the machine refuses (a file this kernel lacks) only drops its
    // own series, as on any host.
    let _ = HostInput::new("/").collect(&mut out);
    let steps = DAY_MS / 15_000;
    out.into_series()
        .into_iter()
        .enumerate()
        .filter_map(|(k, s)| {
            let v = s.samples.first()?.value;
            if !v.is_finite() {
                return None;
            }
            let counter = s.name.ends_with("_total");
            let phase = k as f64;
            let samples = (0..steps)
                .scan(v, |acc, i| {
                    let wave = ((i as f64 + phase * 13.0) / 40.0).sin();
                    let value = if counter {
                        *acc += (v.abs() * 1e-5).max(1.0) * (1.5 + wave);
                        *acc
                    } else {
                        v * (1.0 + 0.05 * wave)
                    };
                    Some(Sample::new(now - DAY_MS + (i + 1) * 15_000, value))
                })
                .collect();
            let mut labels = s.labels;
            labels.insert("host".into(), HOST.into());
            Some(SeriesBatch::new(s.name, labels, samples))
        })
        .collect()
}

/// The host dashboard's queries for [`HOST`]: expression, and whether its
/// panel is a table (asked at one instant) rather than a chart.
fn queries() -> Vec<(String, bool)> {
    let (all, _) = dashboards::load_all(None);
    let host = all
        .iter()
        .find(|d| d.slug == "host")
        .expect("host dashboard");
    let vars = vec![("host".to_string(), HOST.to_string())];
    host.rows
        .iter()
        .flat_map(|r| &r.panels)
        .flat_map(|p| {
            let table = p.kind == PanelType::Table;
            p.queries
                .iter()
                .map(move |q| (q.expr.clone(), table))
                .collect::<Vec<_>>()
        })
        .map(|(e, t)| (dashboards::substitute(&e, &vars, STEP_MS, 15_000), t))
        .collect()
}

/// Seconds for one query, and the series and points it returned.
async fn ask(http: &reqwest::Client, base: &str, q: &str, table: bool, end: i64) -> (f64, usize) {
    let started = Instant::now();
    let mut params = vec![("query", q.to_string())];
    let path = if table {
        params.push(("time", (end / 1000).to_string()));
        "query"
    } else {
        params.push(("start", ((end - DAY_MS) / 1000).to_string()));
        params.push(("end", (end / 1000).to_string()));
        params.push(("step", (STEP_MS / 1000).to_string()));
        "query_range"
    };
    let body = http
        .get(format!("{base}/api/v1/{path}"))
        .query(&params)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], "success", "{base}: {q}: {v}");
    let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
    let points = result
        .iter()
        .map(|s| s["values"].as_array().map_or(1, Vec::len))
        .sum();
    (secs, points)
}

/// Every query of the page, on both sides, in alternating rounds; the
/// median of each side's total per round.
pub async fn host_page(
    label: &str,
    dozor: &reqwest::Client,
    base: &str,
    prom: &Prometheus,
    now: i64,
    warmup: usize,
    rounds: usize,
) {
    let plain = reqwest::Client::new();
    let qs = queries();
    let rss0 = status_kb("self", "VmHWM:");
    let (mut d, mut p) = (Vec::new(), Vec::new());
    let mut differ = Vec::new();
    let mut points = 0;
    let all = warmup + rounds;
    for round in 0..all {
        // Moved by a step each round, so dozor's results cache never
        // answers (see `queries` in main.rs).
        let end = (now - (all - 1 - round) as i64 * STEP_MS) / STEP_MS * STEP_MS;
        let (mut dt, mut pt) = (0.0, 0.0);
        points = 0;
        for (q, table) in &qs {
            let (t, dn) = ask(dozor, base, q, *table, end).await;
            dt += t;
            let (t, pn) = ask(&plain, &prom.url, q, *table, end).await;
            pt += t;
            points += dn;
            if round == all - 1 && dn != pn {
                differ.push(format!("{q}: dozor {dn} points, Prometheus {pn}"));
            }
        }
        if round >= warmup {
            d.push(dt);
            p.push(pt);
        }
    }
    let (dm, pm) = (median(d) * 1e3, median(p) * 1e3);
    println!(
        "{label}: {:<55} dozor {dm:>8.1} ms   prometheus {pm:>7.1} ms   ratio {:>5.1}x   ({} queries, {points} points)",
        "host page, 24 h, step 5 m, uncached",
        dm / pm,
        qs.len()
    );
    println!(
        "{label}: peak RSS of the bench process (dozor) +{} KiB over the host page",
        status_kb("self", "VmHWM:") - rss0
    );
    for line in differ {
        println!("{label}: answers differ: {line}");
    }
}
