//! Probe overhead benchmark (not a test).
//!
//!   cargo bench -p dozor-collector --bench probes
//!
//! What probing costs an agent: 20 s of the same process idle (the
//! baseline, same run), then 20 s probing 10, 100 and 500 HTTP targets
//! every second (a local keep-alive-free endpoint, so every probe pays a
//! connect), then 100 TLS handshakes a second against a local TLS
//! endpoint. Reported: the probing thread's CPU time as a share of one
//! core (the endpoints run on other threads), probes up, and the
//! process's resident memory.

use dozor_collector::probes::{http, tls};
use std::time::{Duration, Instant};

/// CPU time of this thread only: the probes run on it (a current-thread
/// runtime), the endpoints they probe on threads of their own.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// An HTTP endpoint on its own runtime thread, answering at once.
fn endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    addr
}

/// A TLS endpoint with a certificate from a throwaway CA made by openssl;
/// returns its address and the CA.
fn tls_endpoint(dir: &std::path::Path) -> (String, Vec<u8>) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=bench CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "k.pem",
            "-out",
            "l.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "l.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "c.pem",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    ]);
    use rustls_pki_types::pem::PemObject;
    let chain = vec![rustls_pki_types::CertificateDer::from_pem_file(dir.join("c.pem")).unwrap()];
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(dir.join("k.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap().to_string()).unwrap();
            while let Ok((s, _)) = l.accept().await {
                let a = acceptor.clone();
                tokio::spawn(async move {
                    let _ = a.accept(s).await;
                });
            }
        });
    });
    (
        rx.recv().unwrap(),
        std::fs::read(dir.join("ca.pem")).unwrap(),
    )
}

/// Runs `round` once a second for `secs`; (CPU share of a core, probes
/// that succeeded, RSS at the end).
async fn measure<F, Fut>(secs: u64, mut round: F) -> (f64, usize, u64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut ok = 0;
    for i in 0..secs {
        ok += round().await;
        let due = Duration::from_secs(i + 1);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    let share = (cpu_seconds() - cpu0) / start.elapsed().as_secs_f64();
    (share, ok, rss_kib())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let secs = 20;
    let addr = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let (tls_addr, ca_pem) = tls_endpoint(dir.path());
    use rustls_pki_types::pem::PemObject;
    let ca = vec![rustls_pki_types::CertificateDer::from_pem_slice(&ca_pem).unwrap()];

    println!("| load | CPU (share of one core) | probes up | RSS |");
    println!("|---|---|---|---|");
    let (cpu, _, rss) = measure(secs, || async { 0 }).await;
    println!(
        "| idle (baseline) | {:.2}% | – | {} KiB |",
        cpu * 100.0,
        rss
    );
    for n in [10usize, 100, 500] {
        let (cpu, ok, rss) = measure(secs, || {
            let addr = addr.clone();
            async move {
                let rounds = (0..n).map(|_| {
                    let r = http::Request {
                        connect: addr.clone(),
                        host: "bench.test".into(),
                        path: "/".into(),
                        timeout: Duration::from_secs(5),
                        up: http::success_2xx,
                        body_match: Some("ok".into()),
                    };
                    async move { http::probe(&r).await.success }
                });
                futures_util::future::join_all(rounds)
                    .await
                    .into_iter()
                    .filter(|s| *s)
                    .count()
            }
        })
        .await;
        println!(
            "| {n} HTTP probes/s | {:.2}% | {ok} of {} | {rss} KiB |",
            cpu * 100.0,
            n as u64 * secs
        );
    }
    let n = 100usize;
    let (cpu, ok, rss) = measure(secs, || {
        let (addr, ca) = (tls_addr.clone(), ca.clone());
        async move {
            let rounds = (0..n).map(|_| {
                let (addr, ca) = (addr.clone(), ca.clone());
                async move {
                    tls::handshake(&addr, "localhost", Duration::from_secs(5), &ca)
                        .await
                        .success
                }
            });
            futures_util::future::join_all(rounds)
                .await
                .into_iter()
                .filter(|s| *s)
                .count()
        }
    })
    .await;
    println!(
        "| {n} TLS handshakes/s | {:.2}% | {ok} of {} | {rss} KiB |",
        cpu * 100.0,
        n as u64 * secs
    );
}
