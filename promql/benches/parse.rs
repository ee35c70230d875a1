//! What the parse budget costs (not a test): every query of the built-in
//! dashboards, as pages send them (variables filled in), parsed by
//! `promql-parser` alone and by `dozor_promql::parse` (the lexer pass that
//! vets durations, the parse, and the depth and subquery walk), in the same
//! process, alternating rounds. Plus one long query (over 1 KiB, so parsed
//! on its own thread).
//!
//!   cargo bench -p dozor-promql --bench parse

use std::time::Instant;

fn dashboard_queries() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../dashboards");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for piece in text.split("expr = '").skip(1) {
            let q = piece.split('\'').next().unwrap();
            out.push(
                q.replace("$__rate_interval", "1m")
                    .replace("$host", "web-1"),
            );
        }
    }
    out
}

fn time(rounds: usize, qs: &[String], f: impl Fn(&str)) -> f64 {
    let started = Instant::now();
    for _ in 0..rounds {
        for q in qs {
            f(q);
        }
    }
    started.elapsed().as_secs_f64() * 1e6 / (rounds * qs.len()) as f64
}

fn main() {
    let qs = dashboard_queries();
    assert!(qs.len() > 30, "found {} queries", qs.len());
    for q in &qs {
        dozor_promql::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    let long: Vec<String> = vec![(0..60)
        .map(|i| format!("rate(http_requests_total{{job=\"api\",code=\"{i}\"}}[5m])"))
        .collect::<Vec<_>>()
        .join(" or ")];
    assert!(long[0].len() > 1024);
    let rounds = 2_000;
    let mut raw = Vec::new();
    let mut budgeted = Vec::new();
    let mut long_raw = Vec::new();
    let mut long_budgeted = Vec::new();
    for _ in 0..3 {
        raw.push(time(rounds, &qs, |q| {
            promql_parser::parser::parse(q).unwrap();
        }));
        budgeted.push(time(rounds, &qs, |q| {
            dozor_promql::parse(q).unwrap();
        }));
        long_raw.push(time(200, &long, |q| {
            promql_parser::parser::parse(q).unwrap();
        }));
        long_budgeted.push(time(200, &long, |q| {
            dozor_promql::parse(q).unwrap();
        }));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (r, b) = (median(&mut raw), median(&mut budgeted));
    let (lr, lb) = (median(&mut long_raw), median(&mut long_budgeted));
    println!(
        "{} dashboard queries, {rounds} rounds x 3 (medians)",
        qs.len()
    );
    println!("promql-parser alone      {r:>8.1} us/query");
    println!(
        "dozor_promql::parse      {b:>8.1} us/query  ({:.2}x)",
        b / r
    );
    println!("long query ({} bytes), 200 rounds x 3", long[0].len());
    println!("promql-parser alone      {lr:>8.1} us/query");
    println!(
        "dozor_promql::parse      {lb:>8.1} us/query  ({:.2}x)",
        lb / lr
    );
}
