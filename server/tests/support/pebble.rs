//! Debian's pebble (the ACME test CA) with pebble-challtestsrv as its DNS,
//! started by a test: the listener gets a certificate from a CA made here
//! (agents trust it as the ACME account's extra root), every name resolves
//! to 127.0.0.1, and http-01 challenges are validated for real against
//! `http_port` (the test's nginx).

use super::missing;
use super::nginx::free_port;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Pebble {
    pub dir: tempfile::TempDir,
    /// The ACME directory URL.
    pub directory: String,
    /// The root the listener's certificate chains to (PEM).
    pub listener_ca: String,
    management: u16,
    children: Vec<Child>,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A CA and a leaf for 127.0.0.1/localhost signed by it: (ca PEM, leaf PEM,
/// leaf key PEM).
pub fn listener_certs() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "dozor test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    leaf.subject_alt_names.push(rcgen::SanType::IpAddress(
        std::net::Ipv4Addr::LOCALHOST.into(),
    ));
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn wait_port(port: u16, what: &str, log: &Path) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

impl Pebble {
    /// None (a skip, or a failure when CI=true) without pebble. Certificates
    /// last `validity_s`; `blocked` names the CA refuses.
    pub fn start(http_port: u16, validity_s: u64, blocked: &[&str]) -> Option<Self> {
        let (Some(pebble), Some(dns)) = (which("pebble"), which("pebble-challtestsrv")) else {
            missing("pebble and pebble-challtestsrv (Debian package pebble)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (ca, cert, key) = listener_certs();
        std::fs::write(d.join("cert.pem"), &cert).unwrap();
        std::fs::write(d.join("key.pem"), &key).unwrap();
        let (acme, management, dns_port, dns_mgmt) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": d.join("cert.pem"),
            "privateKey": d.join("key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "domainBlocklist": blocked,
            "certificateValidityPeriod": validity_s,
        }});
        std::fs::write(d.join("pebble.json"), config.to_string()).unwrap();
        let log = |name: &str| std::fs::File::create(d.join(name)).unwrap();
        let mut children = Vec::new();
        children.push(
            Command::new(dns)
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
                .stdout(log("dns.log"))
                .stderr(Stdio::null())
                .spawn()
                .expect("pebble-challtestsrv starts"),
        );
        wait_port(dns_mgmt, "pebble-challtestsrv", &d.join("dns.log"));
        children.push(
            Command::new(pebble)
                .arg("-config")
                .arg(d.join("pebble.json"))
                .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
                // No artificial sleeps before validating; no nonces refused
                // at random (instant-acme retries a bad nonce once, pebble
                // would refuse 5% of them); no authorization reuse, so every
                // issue proves its names again.
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0")
                .env("PEBBLE_AUTHZREUSE", "0")
                .stdout(log("pebble.log"))
                .stderr(Stdio::null())
                .spawn()
                .expect("pebble starts"),
        );
        let p = Self {
            directory: format!("https://127.0.0.1:{acme}/dir"),
            listener_ca: ca,
            management,
            children,
            dir,
        };
        wait_port(acme, "pebble", &p.dir.path().join("pebble.log"));
        Some(p)
    }

    /// The root pebble issues under (what a client trusts, `--cacert`).
    pub async fn issuing_root(&self) -> String {
        let ca = reqwest::Certificate::from_pem(self.listener_ca.as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(ca)
            .build()
            .unwrap();
        http.get(format!("https://127.0.0.1:{}/roots/0", self.management))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }
}

fn which(name: &str) -> Option<String> {
    ["/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| Path::new(p).exists())
}
