//! ACME http-01 with instant-acme. The account key is made here and kept
//! in the agent's directory (0600), one account per CA directory. A
//! challenge answer is a file under the ACME root, which this host's nginx
//! serves at `/.well-known/acme-challenge/` on every dozor domain, so
//! nothing is reloaded to prove a name. The CA is reached with reqwest
//! (webpki roots, plus the configured extra root for a private CA), so the
//! agent needs no system certificate store: it runs from a scratch image.

use bytes::Bytes;
use dozor_common::certs::Acme;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType,
    Error, HttpClient, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// The CA's `rateLimited` problem: wait for its window.
    pub rate_limited: bool,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            rate_limited: false,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let rate_limited = matches!(&e, Error::Api(p)
            if p.r#type.as_deref().is_some_and(|t| t.ends_with(":rateLimited")));
        let message = match &e {
            Error::Api(p) => match (&p.detail, &p.r#type) {
                (Some(d), Some(t)) => format!("the CA said: {d} ({t})"),
                (Some(d), None) => format!("the CA said: {d}"),
                _ => format!("the CA said: {e}"),
            },
            Error::Other(inner) => format!("cannot reach the CA: {}", chain(inner.as_ref())),
            _ => e.to_string(),
        };
        Self {
            message,
            rate_limited,
        }
    }
}

/// An error and its causes, as one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// instant-acme's transport over reqwest.
struct Http(reqwest::Client);

impl HttpClient for Http {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            use http_body_util::BodyExt;
            let (parts, body) = req.into_parts();
            let body = match body.collect().await {
                Ok(b) => b.to_bytes(),
                Err(never) => match never {},
            };
            let rsp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(http::Response::<reqwest::Body>::from(
                rsp,
            )))
        })
    }
}

fn http_client(acme: &Acme) -> Result<reqwest::Client, Failure> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("dozor-collector/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = acme
        .extra_ca_pem
        .as_deref()
        .filter(|p| !p.trim().is_empty())
    {
        for c in reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| Failure::new(format!("the extra CA root is not PEM: {e}")))?
        {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| Failure::new(format!("cannot build the HTTP client: {e}")))
}

/// What is kept of an account on disk.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    directory: String,
    email: String,
    credentials: AccountCredentials,
}

/// The account file for a CA directory.
fn account_path(dir: &Path, directory: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(directory.as_bytes());
    dir.join(format!("{}.json", hex::encode(&h[..8])))
}

/// An account with one CA.
pub struct Client {
    account: Account,
}

impl Client {
    /// Loads the account kept for `acme.directory`, or creates one (and
    /// keeps it, 0600) when there is none.
    pub async fn open(acme: &Acme, accounts_dir: &Path) -> Result<Self, Failure> {
        let http = http_client(acme)?;
        let path = account_path(accounts_dir, &acme.directory);
        let builder = || Account::builder_with_http(Box::new(Http(http.clone())));
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(saved) = serde_json::from_str::<Saved>(&text) {
                if saved.directory == acme.directory {
                    let account = builder().from_credentials(saved.credentials).await?;
                    if saved.email != acme.email {
                        let contact = contact(&acme.email);
                        let c: Vec<&str> = contact.iter().map(String::as_str).collect();
                        account.update_contacts(&c).await?;
                        let creds = serde_json::from_str::<Saved>(&text)
                            .map_err(|e| Failure::new(e.to_string()))?
                            .credentials;
                        save(&path, acme, creds)?;
                    }
                    return Ok(Self { account });
                }
            }
        }
        let contact = contact(&acme.email);
        let c: Vec<&str> = contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder()
            .create(
                &NewAccount {
                    contact: &c,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                acme.directory.clone(),
                None,
            )
            .await?;
        save(&path, acme, credentials)?;
        Ok(Self { account })
    }

    /// Proves every domain over http-01 and returns (chain PEM, key PEM).
    /// The key is made here, for this certificate only.
    pub async fn issue(
        &self,
        domains: &[String],
        challenge_dir: &Path,
    ) -> Result<(String, String), Failure> {
        let ids: Vec<Identifier> = domains.iter().map(|d| Identifier::Dns(d.clone())).collect();
        let mut order = self.account.new_order(&NewOrder::new(&ids)).await?;
        let mut answers = Answers::new(challenge_dir)?;
        let mut authzs = order.authorizations();
        while let Some(a) = authzs.next().await {
            let mut a = a?;
            match a.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                s => {
                    return Err(Failure::new(format!(
                        "the CA holds {} as {s:?}",
                        a.identifier()
                    )))
                }
            }
            let mut ch = a
                .challenge(ChallengeType::Http01)
                .ok_or_else(|| Failure::new("the CA offers no http-01 challenge"))?;
            answers.put(&ch.token, ch.key_authorization().as_str())?;
            ch.set_ready().await?;
        }
        let retry = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .timeout(Duration::from_secs(90));
        let status = order.poll_ready(&retry).await?;
        if status != OrderStatus::Ready {
            return Err(Failure::new(why_invalid(&mut order).await));
        }
        let key_pem = order.finalize().await?;
        let chain = order.poll_certificate(&retry).await?;
        drop(answers);
        Ok((chain, key_pem))
    }

    /// Tells the CA the certificate is no longer used.
    pub async fn revoke(&self, chain_pem: &str) -> Result<(), Failure> {
        let chain = dozor_common::certs::inspect::chain(chain_pem).map_err(Failure::new)?;
        self.account
            .revoke(&instant_acme::RevocationRequest {
                certificate: &chain[0],
                reason: None,
            })
            .await?;
        Ok(())
    }
}

fn contact(email: &str) -> Vec<String> {
    if email.trim().is_empty() {
        Vec::new()
    } else {
        vec![format!("mailto:{}", email.trim())]
    }
}

fn save(path: &Path, acme: &Acme, credentials: AccountCredentials) -> Result<(), Failure> {
    let text = serde_json::to_string(&Saved {
        directory: acme.directory.clone(),
        email: acme.email.clone(),
        credentials,
    })
    .map_err(|e| Failure::new(e.to_string()))?;
    super::store::write_private(path, text.as_bytes())
        .map_err(|e| Failure::new(format!("cannot keep the ACME account: {e}")))
}

/// The challenges' own words, when the CA turned the order down.
async fn why_invalid(order: &mut instant_acme::Order) -> String {
    let mut why = Vec::new();
    let mut authzs = order.authorizations();
    while let Some(Ok(mut a)) = authzs.next().await {
        let name = a.identifier().to_string();
        if let Ok(state) = a.refresh().await {
            for c in &state.challenges {
                if let Some(p) = &c.error {
                    why.push(format!(
                        "{name}: {}",
                        p.detail.clone().unwrap_or_else(|| p.to_string())
                    ));
                }
            }
        }
    }
    if why.is_empty() {
        "the CA refused the order".into()
    } else {
        format!("the challenge failed: {}", why.join("; "))
    }
}

/// The challenge files of one order, removed when it ends however it ends.
struct Answers {
    dir: PathBuf,
    written: Vec<PathBuf>,
}

impl Answers {
    fn new(root: &Path) -> Result<Self, Failure> {
        let dir = root.join(dozor_common::certs::CHALLENGE_PREFIX.trim_matches('/'));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::new(format!("{}: {e}", dir.display())))?;
        Ok(Self {
            dir,
            written: Vec::new(),
        })
    }

    /// A token is base64url (RFC 8555 §8.1); anything else could name a
    /// path outside the directory.
    fn put(&mut self, token: &str, answer: &str) -> Result<(), Failure> {
        if token.is_empty()
            || token.len() > 256
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Failure::new(
                "the CA sent a challenge token that is not base64url",
            ));
        }
        let path = self.dir.join(token);
        // Read by nginx's workers, which are not root.
        super::store::write_public(&path, answer.as_bytes())
            .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
        self.written.push(path);
        Ok(())
    }
}

impl Drop for Answers {
    fn drop(&mut self) {
        for p in &self.written {
            let _ = std::fs::remove_file(p);
        }
    }
}
