//! Writing samples straight into storage and reading them back through the
//! Prometheus API, for tests that start from data.

use super::now_ms;
use dozor_common::{Sample, SeriesBatch};
use dozor_server::storage::Store;

/// One sample now of `metric{host=H}` = `v` for each host.
pub async fn put(store: &Store, metric: &str, hosts: &[&str], v: f64) {
    let batches: Vec<SeriesBatch> = hosts
        .iter()
        .map(|h| {
            SeriesBatch::new(
                metric,
                [("host".to_string(), h.to_string())].into_iter().collect(),
                vec![Sample::new(now_ms(), v)],
            )
        })
        .collect();
    store.append(&batches, now_ms()).await.unwrap();
}

/// The result vector of an instant query (empty when nothing matches).
pub async fn query(c: &reqwest::Client, base: &str, q: &str) -> Vec<serde_json::Value> {
    let r: serde_json::Value = c
        .get(format!("{base}/prometheus/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// The first result's value, as the API writes it.
pub async fn value_of(c: &reqwest::Client, base: &str, q: &str) -> Option<String> {
    query(c, base, q)
        .await
        .first()
        .and_then(|r| r["value"][1].as_str().map(str::to_string))
}

/// `promtool check metrics` on `text`: (exit code, its report); None (a
/// skip, or a failure when CI=true) without promtool.
pub fn promtool_check_metrics(text: &str) -> Option<(Option<i32>, String)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        super::missing("promtool (Debian package prometheus)");
        return None;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.code(), report))
}
