//! Exposition parsing benchmark (not a test): a 1 MB text payload of
//! ~15k samples, 30% of them histogram lines, parsed by dozor's parser and
//! by prometheus-parse 0.2.5 (the baseline) in the same run.
//!
//!   cargo bench -p dozor-common --bench parse
//!
//! Both consume every sample (dozor's lenient mode, as scrapes use it;
//! prometheus-parse builds its owned samples). Best of 20 runs each.

use dozor_common::expo::{Format, Parser};
use std::hint::black_box;
use std::time::Instant;

/// Gauges and counters with three labels, and histograms with 10 buckets,
/// in the proportions of a busy service's /metrics.
fn payload() -> String {
    let mut s = String::new();
    let mut f = 0;
    while s.len() < 1_000_000 {
        if f % 10 < 7 {
            s.push_str(&format!("# HELP app_metric_{f} Something the app counts, number {f}.\n# TYPE app_metric_{f} counter\n"));
            for i in 0..25 {
                s.push_str(&format!(
                    "app_metric_{f}{{instance=\"10.0.{}.{i}:9100\",job=\"api\",path=\"/v1/items/{i}\"}} {}\n",
                    f % 256,
                    (f * 1000 + i) as f64 * 1.5
                ));
            }
        } else {
            s.push_str(&format!(
                "# HELP app_latency_{f} Request latency.\n# TYPE app_latency_{f} histogram\n"
            ));
            for i in 0..2 {
                for le in [
                    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
                ] {
                    s.push_str(&format!(
                        "app_latency_{f}_bucket{{handler=\"/v1/h{i}\",method=\"GET\",le=\"{le}\"}} {}\n",
                        f * 7 + i
                    ));
                }
                s.push_str(&format!(
                    "app_latency_{f}_sum{{handler=\"/v1/h{i}\",method=\"GET\"}} 123.45\n"
                ));
                s.push_str(&format!(
                    "app_latency_{f}_count{{handler=\"/v1/h{i}\",method=\"GET\"}} {}\n",
                    f * 7 + i
                ));
            }
        }
        f += 1;
    }
    s
}

fn best<F: FnMut() -> usize>(runs: usize, mut f: F) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, n)
}

fn main() {
    let body = payload();
    let lines = body.lines().filter(|l| !l.starts_with('#')).count();
    let hist = body
        .lines()
        .filter(|l| l.contains("_latency_") && !l.starts_with('#'))
        .count();
    println!(
        "payload: {:.2} MB, {lines} samples, {:.0}% histogram lines",
        body.len() as f64 / 1e6,
        hist as f64 * 100.0 / lines as f64
    );
    let (ours, n_ours) = best(20, || {
        let mut p = Parser::new(&body, Format::Text);
        let mut n = 0;
        let mut sum = 0.0;
        while let Some(s) = p.next_sample() {
            let s = s.expect("valid payload");
            sum += s.value + s.labels.len() as f64;
            n += 1;
        }
        black_box(sum);
        n
    });
    if std::env::var_os("DOZOR_PARSE_ONLY").is_some() {
        // For profiling dozor's side alone (perf record).
        let (t, _) = best(300, || {
            let mut p = Parser::new(&body, Format::Text);
            let mut n = 0;
            while let Some(s) = p.next_sample() {
                n += s.map_or(0, |s| s.labels.len());
            }
            n
        });
        println!("dozor alone: {:.2} ms", t * 1e3);
        return;
    }
    let (theirs, n_theirs) = best(20, || {
        let lines = body.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("valid payload");
        black_box(&scrape);
        scrape.samples.len()
    });
    let per = |t: f64, n: usize| t * 1e9 / n as f64;
    // Per sample line of the payload for both (prometheus-parse folds a
    // histogram's lines into one sample of its own).
    assert_eq!(n_ours, lines);
    println!(
        "dozor            {:7.2} ms  {:6.0} ns/sample",
        ours * 1e3,
        per(ours, lines)
    );
    println!(
        "prometheus-parse {:7.2} ms  {:6.0} ns/sample  ({n_theirs} of its samples)",
        theirs * 1e3,
        per(theirs, lines)
    );
    println!("speed-up: {:.1}x", theirs / ours);
}
