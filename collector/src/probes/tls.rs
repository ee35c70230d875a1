//! TCP connect and TLS handshake probes. The TLS probe verifies the chain
//! against the web's roots (plus any extra CA, for private CAs) and the
//! name, as a client would, and reports the earliest `notAfter` of the
//! chain it was given (`probe_ssl_earliest_cert_expiry`).

use rustls_pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub success: bool,
    pub duration: Duration,
    pub connect: Duration,
    pub handshake: Duration,
    /// Unix seconds; None without a handshake.
    pub earliest_expiry: Option<i64>,
    pub failure: Option<String>,
}

/// A TCP connect to `address` within `timeout`.
pub async fn tcp(address: &str, timeout: Duration) -> Outcome {
    let start = Instant::now();
    let res = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await;
    let mut out = Outcome {
        duration: start.elapsed(),
        connect: start.elapsed(),
        ..Default::default()
    };
    out.failure = match res {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!("cannot connect to {address}: {e}")),
        Err(_) => Some(format!("no connection within {timeout:?}")),
    };
    out.success = out.failure.is_none();
    out
}

/// A TLS handshake with `address` for `name`, trusting the web's roots
/// and `extra_roots`.
pub async fn handshake(
    address: &str,
    name: &str,
    timeout: Duration,
    extra_roots: &[CertificateDer<'static>],
) -> Outcome {
    let start = Instant::now();
    let mut out = Outcome::default();
    let res = tokio::time::timeout(timeout, run(address, name, extra_roots, &mut out)).await;
    out.duration = start.elapsed();
    out.failure = match res {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(format!("no handshake within {timeout:?}")),
    };
    out.success = out.failure.is_none();
    out
}

async fn run(
    address: &str,
    name: &str,
    extra_roots: &[CertificateDer<'static>],
    out: &mut Outcome,
) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in extra_roots {
        roots
            .add(c.clone())
            .map_err(|e| format!("the extra CA is not usable: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let server_name =
        ServerName::try_from(name.to_string()).map_err(|e| format!("{name:?}: {e}"))?;

    let t = Instant::now();
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    out.connect = t.elapsed();

    let t = Instant::now();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    out.handshake = t.elapsed();
    out.earliest_expiry = tls
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .filter_map(|c| super::der::not_after(c))
        .min();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::PrivateKeyDer;

    /// A test CA and a certificate for `localhost` it signed, valid
    /// `days`, made by Debian's openssl: (leaf PEM, leaf key PEM, CA PEM).
    fn certificate(dir: &std::path::Path, days: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
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
                "30",
                "-subj",
                "/CN=dozor test CA",
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
                "leaf.csr",
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
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "c.pem",
            "-days",
            days,
            "-extfile",
            "ext.cnf",
        ]);
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        (read("c.pem"), read("k.pem"), read("ca.pem"))
    }

    async fn serve(cert: &[u8], key: &[u8]) -> String {
        let chain = vec![CertificateDer::from_pem_slice(cert).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let a = acceptor.clone();
                tokio::spawn(async move {
                    let _ = a.accept(s).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn handshakes_verify_the_chain_and_the_name_and_read_the_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, ca) = certificate(dir.path(), "10");
        let addr = serve(&cert, &key).await;
        let t = Duration::from_secs(5);

        // A private CA: not trusted by the web's roots.
        let o = handshake(&addr, "localhost", t, &[]).await;
        assert!(
            !o.success && o.failure.as_deref().unwrap().contains("UnknownIssuer"),
            "{o:?}"
        );

        // Trusted as a private CA: up, and the expiry read.
        let ca = vec![CertificateDer::from_pem_slice(&ca).unwrap()];
        let o = handshake(&addr, "localhost", t, &ca).await;
        assert!(o.success, "{o:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let left = o.earliest_expiry.unwrap() - now;
        assert!(
            (10 * 86_400 - 120..=10 * 86_400 + 120).contains(&left),
            "{left}"
        );

        // Another name: refused.
        let o = handshake(&addr, "example.com", t, &ca).await;
        assert!(
            !o.success && o.failure.as_deref().unwrap().contains("not valid for name"),
            "{o:?}"
        );

        // TCP: up there, down where nothing listens.
        assert!(tcp(&addr, t).await.success);
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let o = tcp(&closed, t).await;
        assert!(!o.success && o.failure.unwrap().contains("cannot connect"));
    }

    #[tokio::test]
    async fn an_expired_certificate_fails_even_from_a_trusted_ca() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        leaf.not_before = rcgen::date_time_ymd(2020, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(2020, 2, 1);
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        let addr = serve(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).await;
        let roots = vec![ca_cert.der().clone()];
        let o = handshake(&addr, "localhost", Duration::from_secs(5), &roots).await;
        assert!(
            !o.success
                && o.failure
                    .as_deref()
                    .unwrap()
                    .contains("certificate expired"),
            "{o:?}"
        );
    }
}
