//! dozor's exposition parser: real payloads (node_exporter 1.5 and
//! Prometheus 2.42 from Debian, and the reference Python client's text and
//! OpenMetrics output), hand-written edge cases for every rule, and the
//! cases prometheus-parse 0.2.5 gets wrong.

use dozor_common::expo::{Format, Kind, ParseError, Parser};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
struct Owned {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
    ts: Option<i64>,
    kind: Kind,
}

fn parse(body: &str, f: Format) -> Result<Vec<Owned>, ParseError> {
    let mut p = Parser::new(body, f).strict();
    let mut out = Vec::new();
    while let Some(s) = p.next_sample() {
        let s = s?;
        out.push(Owned {
            name: s.name.into(),
            labels: s
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: s.value,
            ts: s.timestamp_ms,
            kind: s.kind,
        });
    }
    Ok(out)
}

fn text(body: &str) -> Vec<Owned> {
    parse(body, Format::Text).unwrap_or_else(|e| panic!("{e}"))
}

fn err(body: &str, f: Format) -> String {
    parse(body, f).unwrap_err().to_string()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn sample_lines(body: &str) -> usize {
    body.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

#[test]
fn real_payloads_parse_strictly_and_completely() {
    for (file, f) in [
        ("node_exporter.txt", Format::Text),
        ("prometheus.txt", Format::Text),
        ("python_client.txt", Format::Text),
        ("python_client.om.txt", Format::OpenMetrics),
    ] {
        let body = fixture(file);
        let got = parse(&body, f).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got.len(), sample_lines(&body), "{file}: every sample line");
    }
    let ne = text(&fixture("node_exporter.txt"));
    let cpu = ne
        .iter()
        .find(|s| s.name == "node_cpu_seconds_total")
        .unwrap();
    assert_eq!(cpu.kind, Kind::Counter);
    assert!(cpu.labels.contains_key("mode"));
    let prom = text(&fixture("prometheus.txt"));
    let bucket = prom.iter().find(|s| s.name.ends_with("_bucket")).unwrap();
    assert_eq!(bucket.kind, Kind::Histogram);
    assert!(prom
        .iter()
        .any(|s| s.name.ends_with("_sum") && s.kind == Kind::Summary));
}

#[test]
fn openmetrics_from_the_reference_client() {
    let body = fixture("python_client.om.txt");
    let got = parse(&body, Format::OpenMetrics).unwrap();
    let find = |name: &str, label: Option<(&str, &str)>| {
        got.iter()
            .find(|s| {
                s.name == name
                    && label.is_none_or(|(k, v)| s.labels.get(k).map(String::as_str) == Some(v))
            })
            .unwrap_or_else(|| panic!("{name} {label:?}"))
            .clone()
    };
    let odd = find("http_requests_total", Some(("code", "500")));
    assert_eq!(odd.labels["path"], "/q=\"x\",y={z}");
    assert_eq!(odd.value, 2.0);
    assert_eq!(odd.kind, Kind::Counter);
    assert_eq!(
        find("http_requests_total", Some(("code", "200"))).labels["path"],
        "/a\\b"
    );
    // The bucket with an exemplar keeps its own value; the exemplar goes.
    let b = find("request_latency_seconds_bucket", Some(("le", "0.1")));
    assert_eq!((b.value, b.kind), (1.0, Kind::Histogram));
    assert!(find("queue_depth", None).value.is_nan());
    assert_eq!(
        find("temperature_celsius", Some(("sensor", "a"))).value,
        f64::INFINITY
    );
    assert_eq!(
        find("temperature_celsius", Some(("sensor", "b"))).value,
        f64::NEG_INFINITY
    );
    assert_eq!(find("build_info", None).kind, Kind::Info);
    assert_eq!(
        find("task_state", Some(("task_state", "running"))).kind,
        Kind::StateSet
    );
    assert_eq!(
        find("queue_wait_seconds_gsum", None).kind,
        Kind::GaugeHistogram
    );
    assert_eq!(find("payload_bytes_created", None).kind, Kind::Summary);

    let mut p = Parser::new(&body, Format::OpenMetrics).strict();
    while let Some(s) = p.next_sample() {
        s.unwrap();
    }
    assert_eq!(
        p.help("http_requests").unwrap(),
        "Requests \"served\"\nby path"
    );
    assert_eq!(p.unit("request_latency_seconds"), Some("seconds"));
    assert_eq!(p.kind("request_latency_seconds"), Kind::Histogram);
}

#[test]
fn names_labels_values_and_timestamps() {
    let got = text(concat!(
        "# a comment\n",
        "\n",
        "job:http_requests:rate5m{job=\"api\"} 1.5\n",
        "m{ a = \"1\" , b=\"x\\ny\", } +Inf 1700000000123\n",
        "m{a=\"2\"} -Inf\n",
        "m{a=\"3\"} NaN\n",
        "m{a=\"4\"}\t1e3\r\n",
        "  m{a=\"5\"} -0.5\n",
        "no_labels 7\n",
        "empty{} 8\n",
        "# EOF is only a comment in the text format\n",
    ));
    assert_eq!(got.len(), 8);
    assert_eq!(got[0].name, "job:http_requests:rate5m");
    assert_eq!(got[1].labels["b"], "x\ny");
    assert_eq!(
        (got[1].value, got[1].ts),
        (f64::INFINITY, Some(1_700_000_000_123))
    );
    assert_eq!(got[2].value, f64::NEG_INFINITY);
    assert!(got[3].value.is_nan());
    assert_eq!((got[4].value, got[5].value), (1000.0, -0.5));
    assert!(got[6].labels.is_empty() && got[7].labels.is_empty());
    assert!(text("").is_empty());

    let om = parse(
        "m 1 1700000000.123\nm2 2 1.7e9\n# EOF\n",
        Format::OpenMetrics,
    )
    .unwrap();
    assert_eq!(
        om[0].ts,
        Some(1_700_000_000_123),
        "OpenMetrics timestamps are seconds"
    );
    assert_eq!(om[1].ts, Some(1_700_000_000_000));
}

#[test]
fn errors_name_the_line_and_column_and_what_was_expected() {
    let t = Format::Text;
    assert_eq!(
        err("ok 1\nm{a=\"x\\t\"} 1\n", t),
        "line 2, column 8: expected \\\\, \\\" or \\n, found \\t"
    );
    assert_eq!(
        err("m{a=\"x\"}\n", t),
        "line 1, column 9: expected a space and the value, found the end of the line"
    );
    assert_eq!(
        err("m{a=\"x\"} one\n", t),
        "line 1, column 10: expected a number, NaN, +Inf or -Inf as the value, found \"one\""
    );
    assert_eq!(
        err("m{a=\"x\",a=\"y\"} 1\n", t),
        "line 1, column 9: duplicate label name \"a\""
    );
    assert_eq!(
        err("m{a \"x\"} 1\n", t),
        "line 1, column 5: expected '=' after the label name, found '\"'"
    );
    assert_eq!(
        err("m{a=\"x} 1\n", t),
        "line 1, column 10: expected a closing '\"' for the label value"
    );
    assert_eq!(
        err("m{a=\"x\" b=\"y\"} 1\n", t),
        "line 1, column 9: expected ',' or '}', found 'b'"
    );
    assert_eq!(
        err("9m 1\n", t),
        "line 1, column 1: expected a metric name, found '9'"
    );
    assert_eq!(
        err("m 1 12.5\n", t),
        "line 1, column 5: expected a timestamp (milliseconds), found \"12.5\""
    );
    assert_eq!(
        err("m 1 2 3\n", t),
        "line 1, column 7: expected the end of the line, found '3'"
    );
    assert_eq!(
        err("m 1_000\n", t),
        "line 1, column 3: expected a number, NaN, +Inf or -Inf as the value, found \"1_000\""
    );
    assert_eq!(
        err("# TYPE m sideways\nm 1\n", t),
        "line 1, column 10: expected a metric type, found \"sideways\""
    );
    assert_eq!(
        err("# TYPE m gauge\n# TYPE m gauge\n", t),
        "line 2, column 8: a second TYPE for m"
    );
    assert_eq!(
        err("# TYPE h histogram\nh_bucket 1\n", t),
        "line 2, column 1: histogram bucket h_bucket has no le label"
    );
    assert_eq!(
        err("m{a=\"1\",b=\"2\"} 1\nm{b=\"2\",a=\"1\"} 2\n", t),
        "line 2, column 1: duplicate series m"
    );

    let om = Format::OpenMetrics;
    assert_eq!(
        err("m 1\n", om),
        "line 1, column 1: expected # EOF at the end"
    );
    assert_eq!(
        err("m 1\n# EOF\nm 2\n", om),
        "line 3, column 1: expected nothing after # EOF"
    );
    assert_eq!(
        err("m 1\n\nm2 2\n# EOF\n", om),
        "line 2, column 1: expected a sample or a # line, found an empty line"
    );
    assert_eq!(
        err("# random comment\n# EOF\n", om),
        "line 1, column 3: expected HELP, TYPE, UNIT or EOF, found \"random\""
    );
    assert_eq!(
        err("m 1 # {a=\"1\"}\n# EOF\n", om),
        "line 1, column 14: expected a space and the exemplar's value"
    );

    let bad = Parser::from_bytes(b"ok 1\nm{a=\"\xff\"} 1\n", Format::Text)
        .err()
        .unwrap();
    assert_eq!(bad.to_string(), "line 2, column 6: expected UTF-8 text");
}

#[test]
fn lenient_mode_keeps_the_good_lines_and_counts_the_bad() {
    let body = "a 1\nb{x=} 2\nc 3\nc 3\nd not\ne 5\n";
    let mut p = Parser::new(body, Format::Text);
    let mut names = Vec::new();
    while let Some(s) = p.next_sample() {
        names.push(s.unwrap().name.to_string());
    }
    assert_eq!(names, ["a", "c", "e"]);
    assert_eq!((p.skipped(), p.duplicates()), (2, 1));
    assert_eq!(p.first_error().unwrap().line, 2);
}

/// The cases the issue names: prometheus-parse 0.2.5 corrupts label values
/// holding `,`, `=` or `}` and drops names with colons; dozor does not.
#[test]
fn where_prometheus_parse_is_wrong_dozor_is_right() {
    let body = "job:rate5m{path=\"/a,b\"} 1\nreq{q=\"k=v\"} 2\nreq{q=\"{x}\"} 3\n";
    let ours = text(body);
    assert_eq!(ours.len(), 3);
    assert_eq!(ours[0].name, "job:rate5m");
    assert_eq!(ours[0].labels["path"], "/a,b");
    assert_eq!(ours[1].labels["q"], "k=v");
    assert_eq!(ours[2].labels["q"], "{x}");

    let lines = body.lines().map(|l| Ok(l.to_string()));
    let theirs = prometheus_parse::Scrape::parse(lines).unwrap().samples;
    let got: Vec<(String, Option<String>)> = theirs
        .iter()
        .map(|s| {
            (
                s.metric.clone(),
                s.labels
                    .get("path")
                    .or(s.labels.get("q"))
                    .map(str::to_string),
            )
        })
        .collect();
    let truth = [
        ("job:rate5m".to_string(), Some("/a,b".to_string())),
        ("req".to_string(), Some("k=v".to_string())),
        ("req".to_string(), Some("{x}".to_string())),
    ];
    let right = truth.iter().filter(|t| got.contains(t)).count();
    assert!(
        right < truth.len(),
        "prometheus-parse got them all right this time: {got:?}"
    );
}
