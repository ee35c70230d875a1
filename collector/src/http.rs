//! The collector's side of the HTTP protocol: enrolment and heartbeats.

use crate::sink::{SendError, Sink};
use async_trait::async_trait;
use dozor_common::containers::{TaskBatch, TASKS_PATH, TASK_RESULT_PATH};
use dozor_common::protocol::{
    EnrollRequest, EnrollResponse, ErrorBody, HeartbeatRequest, HeartbeatResponse, HostInventory,
    TaskResult, ENROLL_PATH, HEARTBEAT_PATH,
};
use reqwest::{header, StatusCode};
use std::time::Duration;

const USER_AGENT: &str = concat!("dozor-collector/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("the server refused the enrolment token ({0}); check --enroll-token against DATA_DIR/enroll-token on the server")]
    BadToken(String),
    #[error("enrolment rejected: {0}")]
    Rejected(String),
    #[error("cannot enrol at {server}: {message}")]
    Unavailable { server: String, message: String },
}

impl EnrollError {
    /// Only an unavailable server is worth retrying soon; the others need a
    /// human, so the caller retries slowly and keeps saying why.
    pub fn is_transient(&self) -> bool {
        matches!(self, EnrollError::Unavailable { .. })
    }
}

#[derive(Clone)]
pub struct ServerClient {
    base: String,
    http: reqwest::Client,
}

impl ServerClient {
    pub fn new(base: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn enroll(
        &self,
        token: &str,
        name: &str,
        inventory: HostInventory,
    ) -> Result<EnrollResponse, EnrollError> {
        let body = EnrollRequest {
            token: token.to_string(),
            name: name.to_string(),
            inventory: Some(inventory),
            capabilities: Some(crate::actors::capabilities()),
        };
        let unavailable = |message: String| EnrollError::Unavailable {
            server: self.base.clone(),
            message,
        };
        let resp = self
            .http
            .post(format!("{}{ENROLL_PATH}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| unavailable(describe(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return resp
                .json::<EnrollResponse>()
                .await
                .map_err(|e| unavailable(format!("bad enrolment response: {e}")));
        }
        let msg = error_message(resp).await;
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => EnrollError::BadToken(msg),
            s if s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS => {
                EnrollError::Rejected(msg)
            }
            _ => unavailable(format!("{status}: {msg}")),
        })
    }

    pub fn sink(&self, agent_key: &str) -> HttpSink {
        HttpSink {
            client: self.clone(),
            auth: format!("Bearer {agent_key}"),
        }
    }
}

/// Posts zstd-compressed JSON heartbeats with the agent key.
pub struct HttpSink {
    client: ServerClient,
    auth: String,
}

#[async_trait]
impl Sink for HttpSink {
    async fn poll_tasks(&self, wait: Duration) -> Option<Result<TaskBatch, SendError>> {
        Some(self.poll(wait).await)
    }

    async fn fetch_desired(&self) -> Result<dozor_common::desired::DesiredState, SendError> {
        let resp = self
            .client
            .http
            .get(format!(
                "{}{}",
                self.client.base,
                dozor_common::desired::DESIRED_STATE_PATH
            ))
            .header(header::AUTHORIZATION, &self.auth)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if !resp.status().is_success() {
            return Err(self.failure(resp).await);
        }
        resp.json().await.map_err(|e| SendError::Retry {
            message: format!("unreadable desired state: {e}"),
            after: None,
        })
    }

    async fn send_result(&self, result: &TaskResult) -> Result<(), SendError> {
        let resp = self
            .client
            .http
            .post(format!("{}{TASK_RESULT_PATH}", self.client.base))
            .header(header::AUTHORIZATION, &self.auth)
            .json(result)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.failure(resp).await)
    }

    async fn send(&self, req: HeartbeatRequest) -> Result<HeartbeatResponse, SendError> {
        let json = serde_json::to_vec(&req).map_err(|e| SendError::Rejected(e.to_string()))?;
        let body = zstd::bulk::compress(&json, 3).map_err(|e| SendError::Retry {
            message: format!("zstd: {e}"),
            after: None,
        })?;
        let resp = self
            .client
            .http
            .post(format!("{}{HEARTBEAT_PATH}", self.client.base))
            .header(header::AUTHORIZATION, &self.auth)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_ENCODING, "zstd")
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Retry {
                message: format!("cannot reach {}: {}", self.client.base, describe(&e)),
                after: None,
            })?;
        if resp.status().is_success() {
            return resp.json().await.map_err(|e| SendError::Retry {
                message: format!("bad heartbeat response: {e}"),
                after: None,
            });
        }
        Err(self.failure(resp).await)
    }
}

impl HttpSink {
    /// The status of a failed answer, as the agent loop understands it.
    async fn failure(&self, resp: reqwest::Response) -> SendError {
        let status = resp.status();
        let after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let msg = format!("{status}: {}", error_message(resp).await);
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SendError::Unauthorized(msg),
            StatusCode::TOO_MANY_REQUESTS => SendError::Retry {
                message: msg,
                after,
            },
            s if s.is_client_error() => SendError::Rejected(msg),
            _ => SendError::Retry {
                message: msg,
                after,
            },
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> SendError {
        SendError::Retry {
            message: format!("cannot reach {}: {}", self.client.base, describe(e)),
            after: None,
        }
    }

    async fn poll(&self, wait: Duration) -> Result<TaskBatch, SendError> {
        let resp = self
            .client
            .http
            .get(format!("{}{TASKS_PATH}", self.client.base))
            .query(&[("wait", wait.as_secs())])
            .header(header::AUTHORIZATION, &self.auth)
            // The client's own timeout is for heartbeats; a long-poll
            // legitimately takes `wait`.
            .timeout(wait + Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if !resp.status().is_success() {
            return Err(self.failure(resp).await);
        }
        resp.json().await.map_err(|e| SendError::Retry {
            message: format!("bad task answer: {e}"),
            after: None,
        })
    }
}

async fn error_message(resp: reqwest::Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => match b.field {
            Some(f) => format!("{} (at {f})", b.error),
            None => b.error,
        },
        Err(_) => text.chars().take(300).collect(),
    }
}

/// reqwest's Display hides the cause ("error sending request"); the cause
/// is what a user can act on ("connection refused").
fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}
