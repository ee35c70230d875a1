//! The same samples loaded into dozor and into a real Prometheus (Debian's
//! 2.42, from blocks built by its own `promtool tsdb create-blocks-from`),
//! then the same queries asked of both at times where windows begin and end
//! exactly on samples, and over series holding NaN samples.
//!
//! Debian's Prometheus 2.42 closes its windows at both ends; Prometheus 3
//! (whose semantics dozor follows) opens them on the left: a sample exactly
//! one range (or one lookback) before the evaluation time is out. At
//! millisecond resolution, 3.x's `(t-1m, t]` is 2.42's `[t-59.999s, t]`, so
//! Prometheus is started with a lookback of 4m59.999s and asked `[59999ms]`
//! where dozor is asked `[1m]`: the two must then agree sample for sample.

use crate::support;

use dozor_common::{Sample, SeriesBatch};
use serde_json::Value;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use support::*;

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const STEP_MS: i64 = 15_000;

/// An hour of 15 s samples ending at `end` (a minute boundary).
fn data(end: i64) -> Vec<SeriesBatch> {
    let n = 241;
    let at = |i: i64| end - (n - 1 - i) * STEP_MS;
    let labels = |kind: &str| [("kind".to_string(), kind.to_string())].into();
    // Multiples of 0.25, so sums are exact whichever order adds them.
    let plain: Vec<Sample> = (0..n)
        .map(|i| Sample::new(at(i), ((i * 7) % 13) as f64 + 0.25))
        .collect();
    // Every fifth sample NaN, and 20–15 min before the end all NaN.
    let nan_stretch = (end - 20 * 60_000)..=(end - 15 * 60_000);
    let with_nan: Vec<Sample> = (0..n)
        .map(|i| {
            let v = if i % 5 == 0 || nan_stretch.contains(&at(i)) {
                f64::NAN
            } else {
                ((i * 5) % 11) as f64 - 2.5
            };
            Sample::new(at(i), v)
        })
        .collect();
    // A counter with a reset half-way.
    let counter: Vec<Sample> = (0..n)
        .map(|i| Sample::new(at(i), ((i % 120) * 3) as f64))
        .collect();
    vec![
        SeriesBatch::new("diff_gauge", labels("plain"), plain),
        SeriesBatch::new("diff_gauge", labels("nan"), with_nan),
        SeriesBatch::new("diff_counter", labels("reset"), counter),
        // Samples exactly one lookback and two before the end.
        SeriesBatch::new(
            "diff_sparse",
            labels("edge"),
            vec![
                Sample::new(end - 600_000, 1.0),
                Sample::new(end - 300_000, 2.0),
            ],
        ),
    ]
}

fn openmetrics(series: &[SeriesBatch]) -> String {
    let mut out = String::new();
    for s in series {
        let key = format!("{}{{kind=\"{}\"}}", s.name, s.labels["kind"]);
        for p in &s.samples {
            let (secs, ms) = (p.ts_ms.div_euclid(1000), p.ts_ms.rem_euclid(1000));
            out.push_str(&format!("{key} {} {secs}.{ms:03}\n", p.value));
        }
    }
    out.push_str("# EOF\n");
    out
}

/// The result list of an instant (`end` None) or range query.
async fn ask(c: &reqwest::Client, base: &str, q: &str, t: i64, end: Option<i64>) -> Value {
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    let r = match end {
        None => c
            .get(format!("{base}/api/v1/query"))
            .query(&[("query", q), ("time", &secs(t))]),
        Some(e) => c.get(format!("{base}/api/v1/query_range")).query(&[
            ("query", q),
            ("start", &secs(t)),
            ("end", &secs(e)),
            ("step", "60"),
        ]),
    };
    let v: Value = r.send().await.unwrap().json().await.unwrap();
    assert_eq!(v["status"], "success", "{base}: {q}: {v}");
    let mut result = v["data"]["result"].as_array().cloned().unwrap_or_default();
    result.sort_by_key(|s| s["metric"].to_string());
    Value::Array(result)
}

/// Equal series and timestamps; values both NaN or equal to 1e-12 relative
/// (2.42 and 3.x add in different orders, which can move the last bit).
fn same(a: &Value, b: &Value, what: &str) {
    let (ra, rb) = (a.as_array().unwrap(), b.as_array().unwrap());
    assert_eq!(ra.len(), rb.len(), "{what}:\n dozor {a}\n prometheus {b}");
    for (x, y) in ra.iter().zip(rb) {
        assert_eq!(x["metric"], y["metric"], "{what}");
        let points = |s: &Value| match s.get("values") {
            Some(v) => v.as_array().unwrap().clone(),
            None => vec![s["value"].clone()],
        };
        let (px, py) = (points(x), points(y));
        assert_eq!(px.len(), py.len(), "{what}: {x} vs {y}");
        for (p, q) in px.iter().zip(&py) {
            assert_eq!(p[0], q[0], "{what}: timestamps");
            let (vp, vq): (f64, f64) = (
                p[1].as_str().unwrap().parse().unwrap(),
                q[1].as_str().unwrap().parse().unwrap(),
            );
            let ok = (vp.is_nan() && vq.is_nan())
                || vp == vq
                || (vp - vq).abs() <= 1e-12 * vp.abs().max(vq.abs());
            assert!(ok, "{what}: {vp} vs {vq}\n dozor {x}\n prometheus {y}");
        }
    }
}

#[tokio::test]
async fn aligned_windows_and_nan_samples_agree_with_prometheus() {
    if Command::new("promtool").arg("--version").output().is_err() {
        missing("prometheus and promtool (Debian package prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let end = (now_ms() - 30 * 60_000) / 60_000 * 60_000;
    let series = data(end);
    server.store.append(&series, now_ms()).await.unwrap();
    // Closed windows read from chunks, the last ones from rows.
    server.store.compact(now_ms()).await.unwrap();

    let om = dir.path().join("same.om");
    std::fs::File::create(&om)
        .unwrap()
        .write_all(openmetrics(&series).as_bytes())
        .unwrap();
    let tsdb = dir.path().join("tsdb");
    let built = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(built.status.success(), "{:?}", built);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").unwrap();
    let _prom = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // 2.42's closed [t-5m, t] with 1 ms less is 3.x's (t-5m, t].
            .arg("--query.lookback-delta=4m59s999ms")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let prom = format!("http://127.0.0.1:{port}");
    let dozor = format!("{}/prometheus", server.url());
    let c = api_client(&server).await;
    let plain = reqwest::Client::new();
    eventually(60, || {
        let (plain, prom) = (plain.clone(), prom.clone());
        async move {
            let r = plain.get(format!("{prom}/-/ready")).send().await.ok()?;
            r.status().is_success().then_some(())
        }
    })
    .await;

    // Each query in 3.x form; Prometheus 2.42 is asked the same with
    // ranges 1 ms shorter (see the top of this file).
    let queries = [
        "diff_gauge",
        "diff_sparse",
        "count_over_time(diff_gauge[1m])",
        "sum_over_time(diff_gauge[1m])",
        "avg_over_time(diff_gauge[1m])",
        "min_over_time(diff_gauge[5m])",
        "max_over_time(diff_gauge[5m])",
        "last_over_time(diff_gauge[1m])",
        "present_over_time(diff_gauge[1m])",
        "quantile_over_time(0.5, diff_gauge[5m])",
        "stddev_over_time(diff_gauge[5m])",
        "changes(diff_gauge[5m])",
        "resets(diff_counter[5m])",
        "count_over_time(diff_sparse[5m])",
        "sum(diff_gauge)",
        "max(diff_gauge)",
        "min(diff_gauge)",
        "avg(diff_gauge)",
        "quantile(0.5, diff_gauge)",
        "topk(1, diff_gauge)",
        "diff_gauge > 3",
        "count_over_time(diff_gauge[1m:15s])",
        "max_over_time(diff_gauge[5m:1m])",
        // Aggregations of a window function over one metric take the
        // fused path (promql/src/aggregate.rs, `fused`). Not the
        // extrapolating ones (rate, increase, delta): Prometheus's window
        // here is 1 ms shorter, which moves their extrapolation; they are
        // checked against dozor's unfused path below.
        "sum by (kind) (irate(diff_counter[5m]))",
        "sum(idelta(diff_gauge[5m]))",
        "max by (kind) (changes(diff_gauge[5m]))",
        "min(idelta(diff_gauge[1m]))",
        "count(changes(diff_gauge[5m]))",
        "avg without (kind) (irate(diff_counter[5m]))",
        "group by (kind) (resets(diff_counter[5m]))",
        "sum(deriv(diff_gauge[5m]))",
    ];
    let for_prometheus = |q: &str| {
        q.replace("[1m]", "[59999ms]")
            .replace("[5m]", "[299999ms]")
            .replace("[1m:", "[59999ms:")
            .replace("[5m:", "[299999ms:")
    };
    // On a sample, one lookback after one, inside and at the edges of the
    // all-NaN stretch, and one step off the grid.
    let times = [
        end,
        end - 60_000,
        end - 5 * 60_000,
        end - 15 * 60_000,
        end - 17 * 60_000,
        end - 20 * 60_000,
        end - 7_500,
    ];
    for q in queries {
        let pq = for_prometheus(q);
        let mut answered = 0;
        for t in times {
            let a = ask(&c, &dozor, q, t, None).await;
            let b = ask(&plain, &prom, &pq, t, None).await;
            same(&a, &b, &format!("{q} at end{:+}ms", t - end));
            answered += usize::from(!b.as_array().unwrap().is_empty());
        }
        // Agreeing on nothing proves nothing: every query has data at
        // most of these times (diff_sparse only one lookback back).
        assert!(
            answered >= 2,
            "{q}: Prometheus answered at {answered} times"
        );
        let a = ask(&c, &dozor, q, end - 40 * 60_000, Some(end)).await;
        let b = ask(&plain, &prom, &pq, end - 40 * 60_000, Some(end)).await;
        same(&a, &b, &format!("{q} over 40 min at 60 s steps"));
    }
    // The fused aggregation answers as the general path does: `* 1`
    // (which drops the name, as the rate does) keeps a query off it.
    for q in [
        "sum by (kind) (rate(diff_counter[5m]))",
        "sum(rate(diff_gauge[5m]))",
        "max(increase(diff_gauge[5m]))",
        "avg by (kind) (delta(diff_gauge[5m]))",
    ] {
        let general = q.replacen("]))", "]) * 1)", 1);
        let a = ask(&c, &dozor, q, end - 40 * 60_000, Some(end)).await;
        let b = ask(&c, &dozor, &general, end - 40 * 60_000, Some(end)).await;
        assert!(
            !a.as_array().unwrap().is_empty(),
            "{q}: empty answers prove nothing"
        );
        same(&a, &b, &format!("{q} against {general}"));
    }
    server.shutdown().await;
}
