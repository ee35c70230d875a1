//! Uploaded certificates against real parts: a mismatched key, an
//! expired certificate, one for other names and text that is not PEM are
//! refused with the problem named, and nothing is recorded; a good one is
//! installed on the service's host alone (key 0600) and served over HTTPS
//! by the test's nginx, trusted by curl through that certificate.

use crate::support;

use serde_json::json;
use support::certs::{curl_https, service, setup};
use support::docker::{busybox, Cleanup};
use support::nginx::{replica, Nginx};
use support::*;

fn self_signed(names: &[&str], days: Option<(i32, i32)>) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    if let Some((from, to)) = days {
        p.not_before = rcgen::date_time_ymd(2020, 1, from as u8);
        p.not_after = rcgen::date_time_ymd(2020, 1, to as u8);
    }
    let c = p.self_signed(&key).unwrap();
    (c.pem(), key.serialize_pem())
}

#[tokio::test]
async fn uploads_are_checked_and_a_good_one_is_served_over_https() {
    let Some(image) = busybox("certs-up") else {
        return;
    };
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let run = format!("cu{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let (server, _dir, api, _stop) = setup("web-2", &nginx).await;
    replica(&image.0, &run, &format!("cu-{run}-0"), "upcert");
    service(&api, "upcert", "web-2", "up.example.com", &nginx).await;

    let (good, good_key) = self_signed(&["up.example.com"], None);
    let (_, other_key) = self_signed(&["up.example.com"], None);
    let (expired, expired_key) = self_signed(&["up.example.com"], Some((1, 20)));
    let (elsewhere, elsewhere_key) = self_signed(&["other.example.com"], None);
    let upload = |cert: &str, key: &str| json!({"certificate": cert, "key": key});
    for (body, problem) in [
        (
            upload(&good, &other_key),
            "the key does not match the certificate",
        ),
        (upload(&expired, &expired_key), "expired"),
        (
            upload(&elsewhere, &elsewhere_key),
            "does not cover up.example.com",
        ),
        (upload("not a certificate", &good_key), "no PEM certificate"),
        (upload(&good, "not a key"), "no PEM private key"),
    ] {
        let (status, v) = api
            .send(
                reqwest::Method::PUT,
                "/api/v1/certificates/upcert",
                Some(body),
            )
            .await;
        assert_eq!(status, 400, "{problem}: {v}");
        assert!(v.to_string().contains(problem), "{problem}: {v}");
    }
    assert!(api.cert("upcert").await.is_null(), "nothing recorded");

    let (status, v) = api
        .send(
            reqwest::Method::PUT,
            "/api/v1/certificates/upcert",
            Some(upload(&good, &good_key)),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["state"], "active", "{v}");
    let ca = nginx.dir.path().join("uploaded.pem");
    std::fs::write(&ca, &good).unwrap();
    eventually(30, || async {
        let (code, body) = curl_https(&nginx, &ca, "up.example.com");
        (code == 0 && body.contains("replica")).then_some(())
    })
    .await;
    // The key is the host's alone: 0600 on disk.
    let key = nginx.conf_dir.join("dozor/certs/upcert/key.pem");
    let mode = std::fs::metadata(&key).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let c = eventually(30, || async {
        let c = api.cert("upcert").await;
        (c["source"] == "upload").then_some(c)
    })
    .await;
    assert_eq!(c["report"]["sans"], json!(["up.example.com"]), "{c}");
    // Renewing an upload is refused with what to do instead.
    let (status, v) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/certificates/upcert/renew",
            None,
        )
        .await;
    assert_eq!(status, 400, "{v}");
    drop(server);
}
