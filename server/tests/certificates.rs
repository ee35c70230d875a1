//! Certificates against real parts: Debian's pebble (with
//! pebble-challtestsrv as its DNS) validates http-01 through the test's
//! nginx for real; the service's container is reached over HTTPS with
//! curl trusting pebble's root, HTTP redirects, and a renewal (pebble's
//! certificates last a minute here, so the agent renews by itself at two
//! thirds) is served under wrk without a failed request. A name the CA
//! refuses and a CA that is down are reported as failed with why, and the
//! service keeps serving. Uploads: `certificates_upload.rs`.

use crate::support;

use serde_json::json;
use std::time::Instant;
use support::certs::{curl_https, service, setup};
use support::docker::{busybox, Cleanup};
use support::nginx::{replica, Nginx};
use support::pebble::Pebble;
use support::*;

/// The served certificate's notAfter, as openssl prints it.
fn served_end(nginx: &Nginx, domain: &str) -> String {
    let cmd = format!(
        "openssl s_client -connect 127.0.0.1:{} -servername {domain} </dev/null 2>/dev/null | openssl x509 -noout -enddate",
        nginx.https_port
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn issued_over_acme_served_over_https_renewed_under_load_and_failures_reported() {
    let Some(wrk) = support::wrk::binary() else {
        return;
    };
    let Some(image) = busybox("certs") else {
        return;
    };
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let Some(pebble) = Pebble::start(nginx.port, 60, &["blocked.example.com"]) else {
        return;
    };
    let run = format!("ct{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let (server, _dir, api, _stop) = setup("web-1", &nginx).await;
    replica(&image.0, &run, &format!("ct-{run}-0"), "certs");
    replica(&image.0, &run, &format!("ct-{run}-1"), "certsbad");
    service(&api, "certs", "web-1", "shop.example.com", &nginx).await;
    service(&api, "certsbad", "web-1", "blocked.example.com", &nginx).await;

    // Issuing before the account exists says what to do.
    let (status, v) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/certificates/certs/issue",
            None,
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("ACME account"), "{v}");
    let (status, v) = api
        .send(
            reqwest::Method::PUT,
            "/api/v1/acme",
            Some(json!({"directory": pebble.directory, "email": "ops@example.com", "extra_ca_pem": pebble.listener_ca})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let root = pebble.dir.path().join("issuing-root.pem");
    std::fs::write(&root, pebble.issuing_root().await).unwrap();

    // Issue → served over HTTPS, trusted through pebble's root.
    let t0 = Instant::now();
    let (status, v) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/certificates/certs/issue",
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    eventually(90, || async {
        let (code, body) = curl_https(&nginx, &root, "shop.example.com");
        (code == 0 && body.contains("replica")).then_some(())
    })
    .await;
    let issued_in = t0.elapsed();
    eprintln!(
        "certificates: issue → served over HTTPS in {issued_in:?} (pebble, http-01 through nginx)"
    );

    // HTTP redirects to HTTPS; the challenge path stays on HTTP. (Right
    // after a reload an old worker may still take a connection with the
    // old config, so the redirect is waited for.)
    let location = eventually(10, || async {
        let r = api
            .http
            .get(format!("http://127.0.0.1:{}/a?b=1", nginx.port))
            .header("host", "shop.example.com")
            .send()
            .await
            .ok()?;
        (r.status() == 308).then(|| r.headers()["location"].to_str().unwrap().to_string())
    })
    .await;
    assert_eq!(
        location,
        format!("https://shop.example.com:{}/a?b=1", nginx.https_port)
    );
    let (status, _) = nginx
        .get("shop.example.com", "/.well-known/acme-challenge/none")
        .await;
    assert_eq!(status, 404);

    // The server shows what the host holds, and it is a metric.
    let first = eventually(30, || async {
        let c = api.cert("certs").await;
        (c["report"]["state"] == "active").then_some(c)
    })
    .await;
    let report = &first["report"];
    assert!(
        report["issuer"].as_str().unwrap().contains("Pebble"),
        "{first}"
    );
    assert_eq!(report["sans"], json!(["shop.example.com"]));
    let (nb, na) = (
        report["not_before"].as_i64().unwrap(),
        report["not_after"].as_i64().unwrap(),
    );
    assert!(
        (55..=65).contains(&(na - nb)),
        "a minute's certificate: {first}"
    );
    eventually(30, || async {
        let (_, v) = api
            .send(
                reqwest::Method::GET,
                "/prometheus/api/v1/query?query=dozor_cert_expiry_timestamp_seconds%7Bservice%3D%22certs%22%2Cdomain%3D%22shop.example.com%22%2Csource%3D%22acme%22%7D",
                None,
            )
            .await;
        let value = v["data"]["result"][0]["value"][1].as_str()?.parse::<f64>().ok()?;
        (value as i64 == na).then_some(())
    })
    .await;

    // Renewal by itself at two thirds of the lifetime, under load, over
    // HTTPS: nothing fails, and the new certificate is the one served.
    let connections = 8u64;
    let url = format!("https://127.0.0.1:{}/", nginx.https_port);
    let load = tokio::process::Command::new(wrk)
        .args([
            "-t2",
            &format!("-c{connections}"),
            "-d45s",
            "--timeout",
            "5s",
        ])
        .args(["-H", "Host: shop.example.com", &url])
        .output();
    let renewed = async {
        eventually(60, || async {
            let c = api.cert("certs").await;
            let nb2 = c["report"]["not_before"].as_i64()?;
            let na2 = c["report"]["not_after"].as_i64()?;
            (nb2 > nb && served_end(&nginx, "shop.example.com").contains(&end_text(na2)))
                .then_some(())
        })
        .await
    };
    let (out, ()) = tokio::join!(load, renewed);
    let text = String::from_utf8_lossy(&out.unwrap().stdout).to_string();
    let (requests, non2xx, connect, read, write, timeout) = support::wrk::counts(&text);
    eprintln!("{text}");
    eprintln!(
        "certificates: renewal under load: {requests} requests, non-2xx {non2xx}, connect {connect}, read {read}, write {write}, timeout {timeout}"
    );
    assert!(requests > 1000, "{text}");
    assert_eq!((non2xx, connect, write, timeout), (0, 0, 0, 0), "{text}");
    assert!(
        read <= connections * 3,
        "a reload closes idle keep-alive connections only: {read}"
    );

    // A name the CA refuses: failed, with the CA's words; HTTP still serves.
    let (status, v) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/certificates/certsbad/issue",
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let bad = eventually(60, || async {
        let c = api.cert("certsbad").await;
        (c["report"]["state"] == "failed").then_some(c)
    })
    .await;
    let why = bad["report"]["error"].as_str().unwrap().to_string();
    assert!(
        why.contains("the CA said") && why.contains("blocked.example.com"),
        "{why}"
    );
    assert_eq!(nginx.get("blocked.example.com", "/").await.0, 200);

    // Revoke: told to the CA, the service goes back to plain HTTP.
    let (status, v) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/certificates/certs/revoke",
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    eventually(30, || async {
        let c = api.cert("certs").await;
        (c["report"]["state"] == "revoked" && c["report"]["error"].is_null()).then_some(())
    })
    .await;
    eventually(30, || async {
        let (code, body) = nginx.get("shop.example.com", "/").await;
        (code == 200 && body.contains("replica")).then_some(())
    })
    .await;
    assert!(
        pebble.log().to_lowercase().contains("revok"),
        "pebble saw the revocation"
    );

    // The CA down: failed with why; HTTP keeps serving.
    let dead = format!("https://127.0.0.1:{}/dir", support::nginx::free_port());
    let (status, v) = api
        .send(
            reqwest::Method::PUT,
            "/api/v1/acme",
            Some(json!({"directory": dead, "email": "", "extra_ca_pem": pebble.listener_ca})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/certificates/certs/issue",
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let down = eventually(60, || async {
        let c = api.cert("certs").await;
        (c["report"]["state"] == "failed").then_some(c)
    })
    .await;
    let why = down["report"]["error"].as_str().unwrap().to_string();
    assert!(why.contains("cannot reach the CA"), "{why}");
    assert_eq!(down["report"]["failures"], 1, "{down}");
    let (code, body) = nginx.get("shop.example.com", "/").await;
    assert!(code == 200 && body.contains("replica"), "{code} {body}");
    // The Certificates screen says so, with the reason.
    let cookie = web_session(&server).await;
    let page = api
        .http
        .get(format!("{}/certificates", api.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("cannot reach the CA") && page.contains("blocked.example.com"),
        "{page}"
    );
    drop(server);
}

/// notAfter as `openssl x509 -enddate` prints it (GMT), from Unix seconds.
fn end_text(t: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%b %e %H:%M:%S %Y GMT"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
