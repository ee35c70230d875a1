//! The Prometheus HTTP API over real HTTP: result shapes, parameters
//! (GET and POST form, RFC 3339 and Unix times, durations), and errors
//! with Prometheus's errorType.

use crate::support;

use dozor_common::{Sample, SeriesBatch};
use serde_json::{json, Value};
use support::*;

/// Data starts at T0, a whole minute about an hour ago (recent, so the
/// server's retention keeps it), in Unix seconds.
fn t0() -> i64 {
    (now_ms() / 60_000) * 60 - 3600
}

async fn server_with_data() -> (
    dozor_server::Server,
    tempfile::TempDir,
    i64,
    reqwest::Client,
) {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let t0 = t0();
    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let points = |step: f64| {
        (0..=10)
            .map(|i| Sample::new(t0 * 1000 + i * 60_000, step * i as f64))
            .collect::<Vec<_>>()
    };
    let batch = vec![
        SeriesBatch::new(
            "http_requests_total",
            labels(&[("job", "api"), ("code", "200")]),
            points(10.0),
        ),
        SeriesBatch::new(
            "http_requests_total",
            labels(&[("job", "api"), ("code", "500")]),
            points(1.0),
        ),
        SeriesBatch::new("up", labels(&[("job", "api")]), points(0.0)),
    ];
    server.store.append(&batch, now_ms()).await.unwrap();
    let c = support::api_client(&server).await;
    (server, dir, t0, c)
}

async fn get(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn instant_range_and_scalar_shapes() {
    let (server, _dir, t0, c) = server_with_data().await;
    let base = format!("{}/prometheus/api/v1", server.url());
    let (s, v) = get(
        &c,
        &format!("{base}/query?query=http_requests_total&time={}", t0 + 300),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"__name__": "http_requests_total", "code": "200", "job": "api"}, "value": [t0 + 300, "50"]},
            {"metric": {"__name__": "http_requests_total", "code": "500", "job": "api"}, "value": [t0 + 300, "5"]},
        ]}})
    );
    let (_, v) = get(
        &c,
        &format!(
            "{base}/query?query=sum(rate(http_requests_total%5B5m%5D))&time={}.5",
            t0 + 600
        ),
    )
    .await;
    assert_eq!(
        v["data"]["result"][0]["value"][0],
        json!((t0 + 600) as f64 + 0.5)
    );
    let (_, v) = get(&c, &format!("{base}/query?query=2*3&time={}", t0 + 60)).await;
    assert_eq!(
        v["data"],
        json!({"resultType": "scalar", "result": [t0 + 60, "6"]})
    );
    let (_, v) = get(&c, &format!("{base}/query?query=%22hi%22&time={}", t0 + 60)).await;
    assert_eq!(
        v["data"],
        json!({"resultType": "string", "result": [t0 + 60, "hi"]})
    );
    let (s, v) = get(
        &c,
        &format!(
            "{base}/query_range?query=up&start={t0}&end={}&step=1m",
            t0 + 120
        ),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["data"],
        json!({"resultType": "matrix", "result": [{"metric": {"__name__": "up", "job": "api"}, "values": [[t0, "0"], [t0 + 60, "0"], [t0 + 120, "0"]]}]})
    );
    // POST form, as Grafana sends it.
    let r = c
        .post(format!("{base}/query"))
        .form(&[("query", "count(up)"), ("time", &(t0 + 60).to_string())])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"]["result"][0]["value"], json!([t0 + 60, "1"]));
    // Annotations beside the data, as Prometheus gives them: a rate over a
    // name that is not a counter's, a quantile out of range; none for a
    // rate over a counter.
    let (_, v) = get(
        &c,
        &format!("{base}/query?query=rate(up%5B5m%5D)&time={}", t0 + 300),
    )
    .await;
    assert_eq!(
        v["infos"],
        json!(["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"up\""]),
        "{v}"
    );
    let (_, v) = get(
        &c,
        &format!(
            "{base}/query_range?query=rate(http_requests_total%5B5m%5D)&start={}&end={}&step=60",
            t0 + 300,
            t0 + 600
        ),
    )
    .await;
    assert!(
        v.get("infos").is_none() && v.get("warnings").is_none(),
        "{v}"
    );
    let (_, v) = get(
        &c,
        &format!("{base}/query?query=quantile(2,up)&time={}", t0 + 60),
    )
    .await;
    assert_eq!(
        v["warnings"],
        json!(["PromQL warning: quantile value should be between 0 and 1, got 2"]),
        "{v}"
    );
    // A parameter in both the URL and the body: the body's, as Prometheus.
    let r = c
        .post(format!("{base}/query?query=vector(7)"))
        .form(&[("query", "vector(8)"), ("time", &(t0 + 60).to_string())])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"]["result"][0]["value"], json!([t0 + 60, "8"]));
    server.shutdown().await;
}

#[tokio::test]
async fn errors_carry_prometheus_error_types() {
    let (server, _dir, t0, c) = server_with_data().await;
    let base = format!("{}/prometheus/api/v1", server.url());
    let (s, v) = get(&c, &format!("{base}/query?query=sum(")).await;
    assert_eq!(
        (s, v["status"].as_str(), v["errorType"].as_str()),
        (400, Some("error"), Some("bad_data"))
    );
    // Positions as Prometheus prints them.
    assert_eq!(
        v["error"],
        "invalid parameter \"query\": 1:4: parse error: unclosed left parenthesis"
    );
    let (s, v) = get(&c, &format!("{base}/query")).await;
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")));
    assert!(v["error"].as_str().unwrap().contains("query"));
    let (s, v) = get(&c, &format!("{base}/query?query=up&time=yesterday")).await;
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")));
    let (s, v) = get(
        &c,
        &format!("{base}/query_range?query=up&start=0&end=100000&step=1"),
    )
    .await;
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")));
    assert!(v["error"].as_str().unwrap().contains("11,000"), "{v}");
    let (s, v) = get(
        &c,
        &format!("{base}/query_range?query=up&start=0&end=60&step=0"),
    )
    .await;
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")));
    // Many-to-many matching is an execution error (422).
    let (s, v) = get(
        &c,
        &format!(
            "{base}/query?query=http_requests_total%2Bon(job)%20http_requests_total&time={}",
            t0 + 60
        ),
    )
    .await;
    assert_eq!(
        (s, v["errorType"].as_str()),
        (422, Some("execution")),
        "{v}"
    );
    let (s, v) = get(
        &c,
        &format!("{base}/query_range?query=up%5B5m%5D&start=0&end=60&step=60"),
    )
    .await;
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")), "{v}");
    server.shutdown().await;
}

#[tokio::test]
async fn series_labels_values_and_grafana_probes() {
    let (server, _dir, _t0, c) = server_with_data().await;
    let base = format!("{}/prometheus/api/v1", server.url());
    let (s, v) = get(
        &c,
        &format!("{base}/series?match%5B%5D=http_requests_total%7Bcode%3D~%225..%22%7D"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["data"],
        json!([{"__name__": "http_requests_total", "code": "500", "job": "api"}])
    );
    let (s, v) = get(&c, &format!("{base}/series")).await;
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")));
    // A bad selector is named as the parameter it came in.
    let (s, v) = get(&c, &format!("{base}/series?match%5B%5D=up%7B")).await;
    assert_eq!(s, 400);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("invalid parameter \"match[]\"")),
        "{v}"
    );
    let (_, v) = get(&c, &format!("{base}/labels")).await;
    assert_eq!(v["data"], json!(["__name__", "code", "job"]));
    let (_, v) = get(&c, &format!("{base}/label/__name__/values")).await;
    assert_eq!(v["data"], json!(["http_requests_total", "up"]));
    let (_, v) = get(
        &c,
        &format!("{base}/label/code/values?match%5B%5D=http_requests_total"),
    )
    .await;
    assert_eq!(v["data"], json!(["200", "500"]));
    let (_, v) = get(&c, &format!("{base}/status/buildinfo")).await;
    assert_eq!(v["status"], "success");
    assert!(v["data"]["version"].as_str().unwrap().starts_with('3'));
    for path in [
        "metadata",
        "rules",
        "alerts",
        "status/runtimeinfo",
        "status/flags",
        "status/config",
        "query_exemplars?query=up",
    ] {
        let (s, v) = get(&c, &format!("{base}/{path}")).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("success")), "{path}");
    }
    // The query tools PromLens and editors call.
    let (s, v) = get(
        &c,
        &format!("{base}/format_query?query=sum(rate(x%5B5m%5D))by(job)"),
    )
    .await;
    assert_eq!(
        (s, v["data"].as_str()),
        (200, Some("sum by (job) (rate(x[5m]))"))
    );
    let (s, v) = get(
        &c,
        &format!("{base}/parse_query?query=up%7Bjob%3D%22a%22%7D"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["data"].to_string().contains("\"job\""), "{v}");
    let (s, _) = get(&c, &format!("{base}/format_query?query=sum(")).await;
    assert_eq!(s, 400);
    // Grafana's "Save & test".
    let (_, v) = get(&c, &format!("{base}/query?query=1%2B1&time=1")).await;
    assert_eq!(v["data"]["result"], json!([1, "2"]));
    server.shutdown().await;
}

/// `series`, `labels` and label values honour `start`/`end` (only series
/// with samples in that range, so a host that stopped reporting a day ago
/// is not offered for the last 10 minutes) and `limit` (with Prometheus's
/// warning), on SQLite and PostgreSQL.
async fn listings_honour_time_range_and_limit(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, database_url).await;
    let now = now_ms();
    let one = |host: &str, t: i64| {
        SeriesBatch::new(
            "node_up",
            [("host".to_string(), host.to_string())].into(),
            vec![Sample::new(t, 1.0)],
        )
    };
    let gone = SeriesBatch::new(
        "gone_metric",
        [("host".to_string(), "old".to_string())].into(),
        vec![Sample::new(now - 86_400_000, 1.0)],
    );
    server
        .store
        .append(
            &[
                one("old", now - 86_400_000),
                one("web-1", now),
                one("web-2", now),
                gone,
            ],
            now,
        )
        .await
        .unwrap();
    let c = api_client(&server).await;
    let base = format!("{}/prometheus/api/v1", server.url());
    let window = format!("start={}&end={}", now / 1000 - 600, now / 1000 + 1);
    let (s, v) = get(&c, &format!("{base}/series?match%5B%5D=node_up&{window}")).await;
    assert_eq!(s, 200, "{v}");
    let hosts: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts.len(), 2, "{v}");
    assert!(!hosts.contains(&"old"), "{v}");
    let (_, v) = get(&c, &format!("{base}/series?match%5B%5D=node_up")).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 3, "no range: all time");
    let (_, v) = get(&c, &format!("{base}/label/host/values?{window}")).await;
    assert_eq!(v["data"], json!(["web-1", "web-2"]));
    let (_, v) = get(&c, &format!("{base}/label/__name__/values?{window}")).await;
    assert_eq!(v["data"], json!(["node_up"]));
    let (_, v) = get(&c, &format!("{base}/label/__name__/values")).await;
    assert_eq!(v["data"], json!(["gone_metric", "node_up"]));
    // limit: cut, and said so.
    let (_, v) = get(&c, &format!("{base}/series?match%5B%5D=node_up&limit=1")).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let (_, v) = get(&c, &format!("{base}/labels?limit=2")).await;
    assert_eq!(v["data"], json!(["__name__", "host"]));
    assert!(v.get("warnings").is_none(), "not cut: {v}");
    let (s, _) = get(&c, &format!("{base}/labels?limit=x")).await;
    assert_eq!(s, 400);
    server.shutdown().await;
}

#[tokio::test]
async fn sqlite_listings_honour_time_range_and_limit() {
    listings_honour_time_range_and_limit(None).await;
}

#[tokio::test]
async fn postgres_listings_honour_time_range_and_limit() {
    let Some(db) = pg_database().await else {
        return;
    };
    listings_honour_time_range_and_limit(Some(&db.url)).await;
}
