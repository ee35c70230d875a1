//! A local fake of the Telegram Bot API (the one fake the tests use):
//! it records every request and answers from a script, so tests can make
//! it rate-limit (429 with retry_after), fail (500), refuse a chat, or go
//! away entirely. Method paths are PascalCase, as teloxide sends them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub enum Reply {
    Ok,
    RetryAfter(u32),
    ServerError,
    ChatNotFound,
    /// Never answers, as a server killed mid-request would see it.
    Hang,
}

#[derive(Default)]
pub struct Fake {
    /// (method, body) of every request, in order.
    pub requests: Mutex<Vec<(String, Value)>>,
    /// Replies for the next SendMessage calls; then Ok.
    pub script: Mutex<VecDeque<Reply>>,
    /// Chats that always answer "chat not found".
    pub dead_chats: Mutex<Vec<i64>>,
    /// Updates for GetUpdates, in order; update_id is the index.
    pub updates: Mutex<Vec<Value>>,
}

impl Fake {
    pub fn sent(&self) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == "SendMessage")
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Messages accepted (answered ok) per chat, in order.
    pub fn delivered(&self, chat: i64) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, b)| m == "SendMessage@ok" && b["chat_id"] == chat)
            .map(|(_, b)| b["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Fake {
    /// A user in `chat` sends `text`.
    pub fn user_says(&self, chat: i64, text: &str) {
        let mut u = self.updates.lock().unwrap();
        let id = u.len();
        u.push(json!({"update_id": id, "message": {
            "message_id": id, "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "ops"},
            "from": {"id": chat, "is_bot": false, "first_name": "ops"},
            "text": text
        }}));
    }

    /// A user in `chat` presses an inline button carrying `data`.
    pub fn user_presses(&self, chat: i64, data: &str) {
        let mut u = self.updates.lock().unwrap();
        let id = u.len();
        u.push(json!({"update_id": id, "callback_query": {
            "id": format!("cb{id}"),
            "from": {"id": chat, "is_bot": false, "first_name": "ops"},
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": 1, "date": 1_700_000_000,
                "chat": {"id": chat, "type": "private", "first_name": "ops"},
                "text": "alert"
            }
        }}));
    }

    /// Bodies of the requests to `method`.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

fn api_error(status: StatusCode, code: u16, description: &str, params: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = params {
        body["parameters"] = p;
    }
    (status, Json(body)).into_response()
}

async fn method(
    State(fake): State<Arc<Fake>>,
    Path((_token, method)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Response {
    let body = body.map(|b| b.0).unwrap_or(Value::Null);
    fake.requests
        .lock()
        .unwrap()
        .push((method.clone(), body.clone()));
    match method.as_str() {
        "GetMe" => Json(json!({"ok": true, "result": {
            "id": 1, "is_bot": true, "first_name": "dozor", "username": "dozor_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false
        }}))
        .into_response(),
        "SendMessage" => {
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            if fake.dead_chats.lock().unwrap().contains(&chat) {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    "Bad Request: chat not found",
                    None,
                );
            }
            let reply = fake.script.lock().unwrap().pop_front().unwrap_or(Reply::Ok);
            match reply {
                Reply::Ok => {
                    fake.requests
                        .lock()
                        .unwrap()
                        .push(("SendMessage@ok".into(), body.clone()));
                    Json(json!({"ok": true, "result": {
                        "message_id": 1, "date": 1_700_000_000,
                        "chat": {"id": chat, "type": "private", "first_name": "ops"},
                        "text": body["text"]
                    }}))
                    .into_response()
                }
                Reply::RetryAfter(s) => api_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    429,
                    &format!("Too Many Requests: retry after {s}"),
                    Some(json!({"retry_after": s})),
                ),
                Reply::ServerError => api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    500,
                    "Internal Server Error",
                    None,
                ),
                Reply::ChatNotFound => api_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    "Bad Request: chat not found",
                    None,
                ),
                Reply::Hang => std::future::pending().await,
            }
        }
        "GetUpdates" => {
            let offset = body["offset"].as_u64().unwrap_or(0) as usize;
            let all = fake.updates.lock().unwrap();
            let due: Vec<Value> = all.iter().skip(offset).cloned().collect();
            Json(json!({"ok": true, "result": due})).into_response()
        }
        _ => Json(json!({"ok": true, "result": true})).into_response(),
    }
}

/// Serves the fake on `listener`; returns its base URL.
pub fn serve(fake: Arc<Fake>, listener: std::net::TcpListener) -> String {
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/{token}/{method}", axum::routing::post(method))
        .with_state(fake);
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}/")
}

pub fn start() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = serve(fake.clone(), l);
    (fake, url)
}

/// The outbox dispatcher with a Telegram client pointed at the fake.
pub fn dispatcher(
    store: &dozor_server::storage::Store,
    api: &str,
    clock: &dozor_server::clock::Clock,
) -> dozor_server::alerting::outbox::Dispatcher {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let tg = dozor_server::alerting::telegram::Telegram::new("123:TEST", Some(api), http.clone())
        .unwrap();
    dozor_server::alerting::outbox::Dispatcher::new(
        store.clone(),
        dozor_server::alerting::bot_poll::Slot::new(Some(tg)),
        dozor_server::alerting::notify::Webhook {
            http,
            external_url: "http://dozor".into(),
        },
        clock.clone(),
    )
}
