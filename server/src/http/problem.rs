//! One error type for every route: what went wrong, its status, the field
//! at fault and when to retry. APIs render it as JSON (`{"error",
//! "field"?}`), pages as a short HTML page; storage detail goes to the
//! log, never into either.

use crate::ops::OpError;
use crate::storage::StorageError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dozor_common::protocol::ErrorBody;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<Duration>,
}

impl Problem {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn field(mut self, field: Option<String>) -> Self {
        self.field = field;
        self
    }

    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// `{"error", "field"?}` with the status (and Retry-After).
    pub fn json(self) -> Response {
        let resp = (
            self.status,
            Json(ErrorBody {
                error: self.message,
                field: self.field,
            }),
        )
            .into_response();
        with_retry(resp, self.retry_after)
    }

    /// A page a browser shows: the status, the message, a way back.
    pub fn page(self) -> Response {
        let title = format!(
            "{} {}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or("Error")
        );
        let css = &dozor_ui::assets::names().0;
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · dozor</title>\
             <link rel=\"stylesheet\" href=\"/assets/{css}\"></head><body><main class=\"problem\">\
             <h1>{title}</h1><p>{}</p><p><a href=\"/\">Back to the overview</a></p>\
             </main></body></html>\n",
            crate::alerting::telegram::escape(&self.message)
        );
        let resp = (
            self.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response();
        super::pages::ui::secure(with_retry(resp, self.retry_after))
    }
}

fn with_retry(mut resp: Response, after: Option<Duration>) -> Response {
    if let Some(after) = after {
        let secs = after.as_secs().max(1).to_string();
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&secs).expect("digits are a valid header"),
        );
    }
    resp
}

/// Storage failures: 503 when the database is unreachable (retry), 500
/// otherwise. The detail goes to the log only.
impl From<StorageError> for Problem {
    fn from(e: StorageError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "storage unavailable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage is unavailable; retry later",
            )
            .retry_after(Duration::from_secs(5))
        } else {
            tracing::error!(error = %e, "storage error");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal storage error")
        }
    }
}

/// A refused operation: its own status and words; a rate limit says when
/// to come back.
impl From<OpError> for Problem {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Storage(e) => e.into(),
            OpError::Limited(m, wait) => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, format!("{m}; slow down"))
                    .retry_after(wait)
            }
            OpError::Fields(fields) => {
                let first = fields.first().map(|f| f.field.to_string());
                Problem::new(StatusCode::BAD_REQUEST, OpError::Fields(fields).to_string())
                    .field(first)
            }
            other => Problem::new(
                StatusCode::from_u16(other.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                other.to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn one_problem_two_renderings() {
        let p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "<db> & co")
            .retry_after(Duration::from_secs(5));
        let page = p.clone().page();
        assert_eq!(page.status(), 503);
        assert_eq!(page.headers()[header::RETRY_AFTER], "5");
        assert!(page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let html = body(page).await;
        assert!(html.contains("&lt;db&gt; &amp; co"), "{html}");
        assert!(!html.contains("<db>"));
        let json = p.field(Some("name".into())).json();
        assert_eq!(json.headers()[header::RETRY_AFTER], "5");
        let v: serde_json::Value = serde_json::from_str(&body(json).await).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": "<db> & co", "field": "name"})
        );
    }

    #[test]
    fn refusals_keep_their_status() {
        let p = Problem::from(OpError::NotFound("no such rule".into()));
        assert_eq!(
            (p.status.as_u16(), p.message.as_str()),
            (404, "no such rule")
        );
        let p = Problem::from(OpError::Limited("too many".into(), Duration::from_secs(3)));
        assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(p.retry_after, Some(Duration::from_secs(3)));
    }
}
