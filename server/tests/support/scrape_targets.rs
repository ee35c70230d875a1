//! Loopback targets for the scrape tests: text, OpenMetrics, JSON, and
//! targets that are slow, fail, serve garbage or 100 MB.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use dozor_collector::scrape::{self, target::TargetSpec};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const TEXT: &str = "# TYPE jobs_done counter\njobs_done{job=\"inner\",host=\"evil\",queue=\"a,b=c}\"} 7\n# TYPE lat histogram\nlat_bucket{le=\"1\"} 3\nlat_bucket{le=\"+Inf\"} 4\nlat_sum 2.5\nlat_count 4\nratio:avg5m NaN\n";

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../common/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The targets' server; `flip` makes /vanish drop one of its series.
pub async fn targets(flip: Arc<AtomicBool>) -> String {
    let om = fixture("python_client.om.txt");
    let huge = || async {
        // 100 MB, produced as it is sent.
        use tokio::io::AsyncReadExt;
        let bytes = tokio::io::repeat(b'#').take(100 << 20);
        axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(bytes))
    };
    let app = axum::Router::new()
        .route("/text", get(|| async { TEXT }))
        .route(
            "/om",
            get(move || {
                let om = om.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        om,
                    )
                }
            }),
        )
        .route(
            "/json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"uptime": 12, "queues": [{"name": "mail", "depth": 4}], "ok": true}"#,
                )
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late 1\n"
            }),
        )
        .route(
            "/fail",
            get(|| async {
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()
            }),
        )
        .route(
            "/garbage",
            get(|| async { "<html>not metrics</html>\n{{{\n" }),
        )
        .route("/huge", get(huge))
        .route(
            "/vanish",
            get(move || {
                let gone = flip.load(Ordering::SeqCst);
                async move {
                    if gone {
                        "keeps 1\n".to_string()
                    } else {
                        "keeps 1\nvanishing 2\n".to_string()
                    }
                }
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    base
}

pub fn target(job: &str, url: String, f: impl FnOnce(&mut TargetSpec)) -> scrape::Target {
    let mut spec = TargetSpec {
        job: job.into(),
        url,
        interval: Some("1s".into()),
        ..Default::default()
    };
    f(&mut spec);
    spec.compile(Duration::from_secs(1)).unwrap()
}
