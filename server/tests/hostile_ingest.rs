//! One bad series or sample never blocks the good ones beside it, on
//! SQLite and PostgreSQL alike: a NUL byte in a label value (which
//! PostgreSQL cannot store), a label name sent twice, a bad metric name,
//! timestamps outside the accepted range (0, seconds sent as milliseconds,
//! the future) and a second value for a stored timestamp. Each is refused
//! alone, counted in /metrics by reason and named in the answer. Names in
//! UTF-8, as Prometheus 3 sends them, are not bad: they are stored.

use crate::support;

use dozor_server::remote_write::{Label, TimeSeries, WireSample, WriteRequest};
use prost::Message;
use serde_json::json;
use support::*;

async fn metrics(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn counter(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(k, v)| Label {
                name: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|(t, v)| WireSample {
                timestamp: *t,
                value: *v,
            })
            .collect(),
    }
}

async fn remote_write(base: &str, token: &str, ts: Vec<TimeSeries>) -> (u16, String) {
    let body = snap::raw::Encoder::new()
        .compress_vec(
            &WriteRequest {
                timeseries: ts,
                ..Default::default()
            }
            .encode_to_vec(),
        )
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{base}/prometheus/api/v1/write"))
        .header("content-encoding", "snappy")
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn stored(server: &dozor_server::Server, metric: &str) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    for s in server
        .store
        .find_series(Some(metric), &Default::default(), 100)
        .await
        .unwrap()
    {
        for p in server.store.samples(s.id, 0, i64::MAX / 2).await.unwrap() {
            out.push((p.ts_ms, p.value));
        }
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

async fn one_bad_item_never_blocks_the_rest(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, database_url).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "web-1").await;
    let now = now_ms();

    // Heartbeat: three bad series and two bad samples among good ones.
    // Written by hand: a JSON object with a repeated key.
    let body = format!(
        r#"{{"series": [
            {{"name": "good", "labels": {{"k": "1"}}, "samples": [[{now}, 1], [0, 5], [{future}, 6]]}},
            {{"name": "good", "labels": {{"k": "nul\u0000here"}}, "samples": [[{now}, 2]]}},
            {{"name": "good", "labels": {{"k": "a", "k": "b"}}, "samples": [[{now}, 3]]}},
            {{"name": "", "samples": [[{now}, 4]]}},
            {{"name": "good", "labels": {{"k": "2"}}, "samples": [[{now}, 7]]}}
        ]}}"#,
        future = now + 3_600_000
    );
    let r = post_heartbeat(&base, Some(&key), body.into_bytes(), None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["stored_samples"], 2, "{}", r.json);
    assert_eq!(r.json["rejected"]["series"], 3, "{}", r.json);
    assert_eq!(r.json["rejected"]["samples"], 2, "{}", r.json);
    assert_eq!(r.json["dropped_samples"], 1, "too old");
    let examples = r.json["rejected"]["examples"].to_string();
    for says in [
        "NUL byte",
        "appears more than once",
        "invalid metric name",
        "older than the retention window",
        "ahead of the server clock",
    ] {
        assert!(examples.contains(says), "{says}: {examples}");
    }
    assert_eq!(stored(&server, "good").await, vec![(now, 1.0), (now, 7.0)]);

    // A second value for a stored timestamp: the first stands, the
    // second is counted; the same value again is only a duplicate.
    let again = |v: f64, extra: bool| {
        let mut samples = vec![json!([now, v])];
        if extra {
            samples.push(json!([now + 1, 8]));
        }
        zstd_json(&json!({"series": [{"name": "good", "labels": {"k": "1"}, "samples": samples}]}))
    };
    let r = post_heartbeat(&base, Some(&key), again(9.0, true), Some("zstd")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["stored_samples"], 1);
    assert_eq!(r.json["rejected"]["samples"], 1, "{}", r.json);
    assert!(r.json["rejected"]["examples"]
        .to_string()
        .contains("already stored with another value"));
    let r = post_heartbeat(&base, Some(&key), again(1.0, false), Some("zstd")).await;
    assert_eq!(r.status, 200);
    assert!(r.json.get("rejected").is_none(), "{}", r.json);
    // Two values for one timestamp in the same batch.
    let twice = zstd_json(&json!({"series": [
        {"name": "twice", "samples": [[now, 1], [now, 2]]}
    ]}));
    let r = post_heartbeat(&base, Some(&key), twice, Some("zstd")).await;
    assert_eq!(r.json["rejected"]["samples"], 1, "{}", r.json);
    assert_eq!(stored(&server, "twice").await.len(), 1);
    assert_eq!(stored(&server, "good").await[..2], [(now, 1.0), (now, 7.0)]);

    // remote_write: bad series are refused alone with 204 for the rest.
    let token = std::fs::read_to_string(&server.remote_write_token_path).unwrap();
    let token = token.trim();
    let (status, body) = remote_write(
        &base,
        token,
        vec![
            series(&[("__name__", "rw"), ("k", "nul\0")], &[(now, 1.0)]),
            series(&[("__name__", "rw"), ("k", "x"), ("k", "y")], &[(now, 1.0)]),
            series(&[("__name__", "rw"), ("k", "ok")], &[(now, 2.0)]),
            series(&[("k", "nameless")], &[(now, 3.0)]),
        ],
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(stored(&server, "rw").await, vec![(now, 2.0)]);
    // Samples out of bounds: 400 (never retried) saying so, the rest kept.
    let (status, body) = remote_write(
        &base,
        token,
        vec![
            series(&[("__name__", "rw_time")], &[(0, 1.0), (now, 2.0)]),
            series(
                &[("__name__", "rw_time"), ("unit", "s")],
                &[(now / 1000, 3.0)],
            ),
            series(&[("__name__", "rw_time"), ("k", "neg")], &[(-5, 4.0)]),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("3 sample(s) not stored (1 stored)"), "{body}");
    assert!(body.contains("older than the retention window"), "{body}");
    assert_eq!(stored(&server, "rw_time").await, vec![(now, 2.0)]);

    // A label filter with a quote in its name (a valid UTF-8 name since
    // Prometheus 3): "no such series" on every backend, never an error
    // (it once made SQLite's JSON path fail with 500). An empty name is
    // refused.
    let api = api_client(&server).await;
    let r = api
        .get(format!("{base}/api/v1/series?metric=good&label=job%22=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["series"],
        json!([])
    );
    let r = api
        .get(format!("{base}/api/v1/series?metric=good&label==x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let odd: dozor_common::Labels = [("job\"".to_string(), "x".to_string())].into();
    assert!(server
        .store
        .find_series(Some("good"), &odd, 10)
        .await
        .unwrap()
        .is_empty());
    let r = api
        .get(format!(
            "{base}/prometheus/api/v1/query?query=good%7B%22job%5C%22%22%3D%22x%22%7D"
        ))
        .send()
        .await
        .unwrap();
    assert!(
        r.status() == 200 || r.status() == 400,
        "never 500: {}",
        r.status()
    );

    let m = metrics(&base).await;
    for (series, n) in [
        (
            r#"dozor_ingest_rejected_series_total{reason="nul_byte"}"#,
            2.0,
        ),
        (
            r#"dozor_ingest_rejected_series_total{reason="duplicate_label"}"#,
            2.0,
        ),
        (
            r#"dozor_ingest_rejected_series_total{reason="invalid_name"}"#,
            2.0,
        ),
        (
            r#"dozor_ingest_dropped_samples_total{reason="too_old"}"#,
            4.0,
        ),
        (
            r#"dozor_ingest_dropped_samples_total{reason="too_new"}"#,
            1.0,
        ),
        (
            r#"dozor_ingest_dropped_samples_total{reason="duplicate_timestamp"}"#,
            2.0,
        ),
    ] {
        assert_eq!(counter(&m, series), n, "{series}\n{m}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn sqlite_one_bad_item_never_blocks_the_rest() {
    one_bad_item_never_blocks_the_rest(None).await;
}

#[tokio::test]
async fn postgres_one_bad_item_never_blocks_the_rest() {
    let Some(db) = pg_database().await else {
        return;
    };
    one_bad_item_never_blocks_the_rest(Some(&db.url)).await;
}

/// Prometheus 3 senders name series in UTF-8 (`otel.metric`,
/// `service.name`) and may send `__`-prefixed labels such as `__type__`:
/// remote_write stores them beside the classic series of the same request
/// (once, all of them were refused with the request), PromQL finds them
/// with Prometheus 3's quoted selectors, and federation writes them quoted
/// for a reader that asks for UTF-8, with underscores for any other.
async fn utf8_names_are_stored_queried_and_federated(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, database_url).await;
    let base = server.url();
    let now = now_ms();
    let token = std::fs::read_to_string(&server.remote_write_token_path).unwrap();
    let (status, body) = remote_write(
        &base,
        token.trim(),
        vec![
            series(
                &[("__name__", "otel.metric"), ("service.name", "api")],
                &[(now, 1.0)],
            ),
            series(
                &[
                    ("__name__", "otel_requests_total"),
                    ("service.name", "api"),
                    ("__type__", "counter"),
                ],
                &[(now, 2.0)],
            ),
            series(&[("__name__", "classic"), ("job", "x")], &[(now, 3.0)]),
            // Truly unstorable: no name. Refused alone.
            series(&[("job", "nameless")], &[(now, 4.0)]),
        ],
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let api = api_client(&server).await;
    let one = |r: Vec<serde_json::Value>| {
        assert_eq!(r.len(), 1, "{r:?}");
        r[0].clone()
    };
    let got =
        one(support::data::query(&api, &base, r#"{"otel.metric", "service.name"="api"}"#).await);
    assert_eq!(got["metric"]["__name__"], "otel.metric");
    assert_eq!(got["value"][1], "1");
    let got =
        one(
            support::data::query(&api, &base, r#"otel_requests_total{"service.name"="api"}"#).await,
        );
    assert_eq!(got["metric"]["__type__"], "counter", "{got}");
    assert_eq!(got["value"][1], "2");
    assert_eq!(
        one(support::data::query(&api, &base, "classic").await)["value"][1],
        "3"
    );
    // The dozor JSON API's label filter takes the name too.
    let r: serde_json::Value = api
        .get(format!("{base}/api/v1/series?label=service.name=api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["series"].as_array().map(Vec::len), Some(2), "{r}");

    let federate = |accept: Option<&'static str>| {
        let api = api.clone();
        let base = base.clone();
        async move {
            let mut req = api
                .get(format!("{base}/prometheus/federate"))
                .query(&[("match[]", r#"{"service.name"="api"}"#)]);
            if let Some(a) = accept {
                req = req.header("accept", a);
            }
            req.send().await.unwrap().text().await.unwrap()
        }
    };
    let plain = federate(None).await;
    assert!(
        plain.contains(&format!("otel_metric{{service_name=\"api\"}} 1 {now}")),
        "{plain}"
    );
    assert!(plain.contains("otel_requests_total{__type__=\"counter\",service_name=\"api\"} 2"));
    let utf8 = federate(Some("text/plain;version=1.0.0;escaping=allow-utf-8")).await;
    assert!(
        utf8.contains(&format!(
            "{{\"otel.metric\",\"service.name\"=\"api\"}} 1 {now}"
        )),
        "{utf8}"
    );
    assert!(utf8.contains("# TYPE \"otel.metric\" untyped"), "{utf8}");

    let m = metrics(&base).await;
    assert_eq!(
        counter(
            &m,
            r#"dozor_ingest_rejected_series_total{reason="invalid_name"}"#
        ),
        1.0,
        "{m}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sqlite_utf8_names_are_stored_queried_and_federated() {
    utf8_names_are_stored_queried_and_federated(None).await;
}

#[tokio::test]
async fn postgres_utf8_names_are_stored_queried_and_federated() {
    let Some(db) = pg_database().await else {
        return;
    };
    utf8_names_are_stored_queried_and_federated(Some(&db.url)).await;
}
