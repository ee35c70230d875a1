//! The agent's handlers, one per task kind. A handler is registered with
//! its kind's type, so the request is decoded and the output encoded in
//! one place; the server learns the registered kinds from the heartbeat
//! and never sends a kind this agent does not have.

use async_trait::async_trait;
use dozor_common::protocol::{Task, TaskResult};
use dozor_common::tasks::{TaskError, TaskKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

#[async_trait]
trait Handler: Send + Sync {
    async fn run(&self, payload: Value) -> Result<Value, TaskError>;
}

struct Typed<K, F> {
    f: F,
    kind: PhantomData<fn() -> K>,
}

#[async_trait]
impl<K, F, Fut> Handler for Typed<K, F>
where
    K: TaskKind,
    F: Fn(K::Request) -> Fut + Send + Sync,
    Fut: Future<Output = Result<K::Output, TaskError>> + Send,
{
    async fn run(&self, payload: Value) -> Result<Value, TaskError> {
        let req: K::Request = serde_json::from_value(payload)
            .map_err(|e| TaskError::Invalid(format!("bad {} request: {e}", K::NAME)))?;
        let out = (self.f)(req).await?;
        serde_json::to_value(out).map_err(|e| TaskError::Failed(format!("cannot encode: {e}")))
    }
}

/// Handlers by kind name.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<&'static str, Arc<dyn Handler>>,
}

impl Registry {
    /// Adds the handler of kind `K`.
    pub fn register<K, F, Fut>(mut self, f: F) -> Self
    where
        K: TaskKind,
        F: Fn(K::Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<K::Output, TaskError>> + Send + 'static,
    {
        let h: Arc<dyn Handler> = Arc::new(Typed::<K, F> {
            f,
            kind: PhantomData,
        });
        self.handlers.insert(K::NAME, h);
        self
    }

    /// The kinds this agent can run, announced to the server.
    pub fn kinds(&self) -> Vec<String> {
        self.handlers.keys().map(|k| k.to_string()).collect()
    }

    /// Runs one task to its result; an unknown kind is refused.
    pub async fn run(&self, t: &Task) -> TaskResult {
        let out = match self.handlers.get(t.kind.as_str()) {
            Some(h) => h.run(t.payload.clone()).await,
            None => Err(TaskError::Unsupported(t.kind.clone())),
        };
        match out {
            Ok(output) => TaskResult {
                task_id: t.id,
                ok: true,
                message: String::new(),
                output,
                error: None,
            },
            Err(e) => {
                tracing::warn!(task_id = t.id, kind = %t.kind, error = %e, "task failed");
                TaskResult {
                    task_id: t.id,
                    ok: false,
                    message: e.to_string(),
                    output: Value::Null,
                    error: Some(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    struct Echo;
    #[derive(Serialize, Deserialize)]
    struct Say {
        word: String,
    }
    impl TaskKind for Echo {
        const NAME: &'static str = "test.echo";
        type Request = Say;
        type Output = Say;
    }

    fn task(kind: &str, payload: Value) -> Task {
        Task {
            id: 7,
            kind: kind.into(),
            payload,
            created_at: 0,
        }
    }

    #[tokio::test]
    async fn typed_handlers_decode_encode_and_refuse() {
        let r = Registry::default().register::<Echo, _, _>(|s: Say| async move {
            if s.word.is_empty() {
                Err(TaskError::Invalid("say something".into()))
            } else {
                Ok(Say {
                    word: s.word.to_uppercase(),
                })
            }
        });
        assert_eq!(r.kinds(), ["test.echo"]);
        let ok = r
            .run(&task("test.echo", serde_json::json!({"word": "hi"})))
            .await;
        assert_eq!((ok.ok, ok.output["word"].as_str()), (true, Some("HI")));
        let bad = r
            .run(&task("test.echo", serde_json::json!({"nope": 1})))
            .await;
        assert!(
            matches!(bad.error, Some(TaskError::Invalid(ref m)) if m.starts_with("bad test.echo request"))
        );
        let empty = r
            .run(&task("test.echo", serde_json::json!({"word": ""})))
            .await;
        assert_eq!(
            empty.error,
            Some(TaskError::Invalid("say something".into()))
        );
        let unknown = r.run(&task("test.nope", Value::Null)).await;
        assert_eq!(
            unknown.error,
            Some(TaskError::Unsupported("test.nope".into()))
        );
        assert!(!unknown.ok);
    }
}
