//! Reading a PEM certificate chain (and, for uploads, its key): the
//! fields dozor shows and the checks an upload must pass before it goes
//! anywhere. The server runs them to answer a user with a 400 that names
//! the problem; the agent runs them again before nginx is given the files.
//! Input is whatever a user pasted, so every failure is an error, never a
//! panic, and the size is capped before parsing.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A chain or key larger than this is refused unread (a real chain with
/// its intermediates is a few KB).
pub const MAX_PEM_BYTES: usize = 64 * 1024;
/// Certificates in one chain, at most.
const MAX_CHAIN: usize = 8;

/// What dozor shows of a certificate (the leaf of a chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub issuer: String,
    pub sans: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// `not_after` as the certificate writes it, for messages.
    pub not_after_text: String,
    /// It names an OCSP responder, so nginx can staple.
    pub ocsp: bool,
}

/// The DER certificates of a PEM chain, leaf first.
pub fn chain(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(format!(
            "the certificate is {} bytes; at most {MAX_PEM_BYTES} are read",
            pem.len()
        ));
    }
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let c = c.map_err(|e| format!("the certificate is not valid PEM: {e}"))?;
        out.push(c);
        if out.len() > MAX_CHAIN {
            return Err(format!("a chain of more than {MAX_CHAIN} certificates"));
        }
    }
    if out.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into());
    }
    Ok(out)
}

/// The leaf's fields.
pub fn info(pem: &str) -> Result<Info, String> {
    let chain = chain(pem)?;
    leaf_info(&chain[0])
}

pub fn leaf_info(der: &[u8]) -> Result<Info, String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("the certificate cannot be read: {e}"))?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) => sans.push(d.to_string()),
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        sans.push(std::net::Ipv4Addr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let ocsp = cert.iter_extensions().any(|e| {
        matches!(e.parsed_extension(), ParsedExtension::AuthorityInfoAccess(aia)
            if aia.iter().any(|d| d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP))
    });
    let v = cert.validity();
    Ok(Info {
        issuer: cert.issuer().to_string(),
        sans,
        not_before: v.not_before.timestamp(),
        not_after: v.not_after.timestamp(),
        not_after_text: v.not_after.to_string(),
        ocsp,
    })
}

/// A PEM private key (PKCS#8, SEC1 or PKCS#1).
pub fn key(pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(format!(
            "the key is {} bytes; at most {MAX_PEM_BYTES} are read",
            pem.len()
        ));
    }
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("no PEM private key found: {e}"))
}

/// Everything an uploaded certificate must be: readable, its key's,
/// valid now and covering every domain. The error names the problem.
pub fn check_upload(
    cert_pem: &str,
    key_pem: &str,
    domains: &[String],
    now: i64,
) -> Result<Info, String> {
    let chain = chain(cert_pem)?;
    let info = leaf_info(&chain[0])?;
    let key = key(key_pem)?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("the key cannot be used: {e}"))?;
    rustls::sign::CertifiedKey::new(chain, signing)
        .keys_match()
        .map_err(|_| "the key does not match the certificate".to_string())?;
    if info.not_after <= now {
        return Err(format!(
            "the certificate expired on {}",
            info.not_after_text
        ));
    }
    if info.not_before > now {
        return Err(format!(
            "the certificate is not valid yet (from Unix time {})",
            info.not_before
        ));
    }
    if let Some(d) = super::uncovered(&info.sans, domains) {
        return Err(format!(
            "the certificate does not cover {d} (it names {})",
            if info.sans.is_empty() {
                "no DNS names".to_string()
            } else {
                info.sans.join(", ")
            }
        ));
    }
    Ok(info)
}
