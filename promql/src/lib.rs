//! The one query path: PromQL text → `promql-parser` AST → dozor's
//! evaluator over a [`Source`] (the server's storage). Dashboards, alert rules and the
//! Prometheus HTTP API all call [`Engine`].
//!
//! Evaluation follows Prometheus 3: a range query is the instant query
//! evaluated at every step; selectors are left-open windows; samples come
//! from storage once per selector (see `plan.rs`), so stepping costs only
//! binary searches.

mod aggregate;
pub mod annotations;
mod binary;
pub mod budget;
pub mod dates;
mod eval;
mod functions;
mod histogram;
mod labels_fns;
pub mod memory;
mod plan;
pub mod position;
pub mod promqltest;
mod range_fns;
pub mod rollup;
mod rollups;
mod select;
pub mod source;
mod supported;
pub mod timeparse;
pub mod value;

pub use plan::matches as plan_matches;
pub use value::{Metric, Sample, Series, Value};

pub use source::{RollupPoint, SeriesInfo, Source, SourceError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Most samples one query may load from storage.
    pub max_samples: usize,
    pub timeout: Duration,
    /// Most steps in a range query (Prometheus: 11,000).
    pub max_points: i64,
    pub lookback: Duration,
    /// Most series one selector may match.
    pub max_series: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            max_points: 11_000,
            lookback: Duration::from_secs(300),
            max_series: 100_000,
        }
    }
}

/// Errors, with Prometheus's `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Invalid query text or parameters (`bad_data`, HTTP 400).
    #[error("{0}")]
    BadData(String),
    /// A failure while evaluating (`execution`, HTTP 422).
    #[error("{0}")]
    Execution(String),
    #[error("query timed out in {0}")]
    Timeout(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A bug: evaluation panicked. Caught so the server stays up; the fuzz
    /// target treats it as a failure.
    #[error("internal error while evaluating: {0}")]
    Internal(String),
}

impl QueryError {
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Source(e) if e.unavailable => "unavailable",
            QueryError::Source(_) | QueryError::Internal(_) => "internal",
        }
    }
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;

/// A parsed query, so callers can reject bad text before doing work. Every
/// query text goes through here or [`parse_expr`]: they enforce the
/// [`budget`] (length, depth, subquery steps) that keeps evaluation from
/// exhausting the stack or memory.
pub fn parse(query: &str) -> Result<promql_parser::parser::Expr> {
    parse_param("query", query)
}

/// [`parse`] for another parameter (`match[]`), which errors name.
pub fn parse_param(param: &str, text: &str) -> Result<promql_parser::parser::Expr> {
    parse_expr(text).map_err(|e| QueryError::BadData(format!("invalid parameter \"{param}\": {e}")))
}

/// [`parse`] for rule files, silences and the like: the message alone,
/// `LINE:COL: parse error: …` for a syntax error as Prometheus prints it.
pub fn parse_expr(text: &str) -> std::result::Result<promql_parser::parser::Expr, String> {
    budget::parse(text).map_err(|e| match e {
        budget::Refused::Syntax(e) => position::format(text, &e),
        budget::Refused::Budget(e) => e,
    })
}

#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Source>,
    limits: Limits,
    use_rollups: bool,
    stats: Arc<QueryStats>,
}

/// Totals since start, for `/metrics` and for tests that check which
/// path a query took.
#[derive(Debug, Default)]
pub struct QueryStats {
    pub samples_loaded: AtomicU64,
    pub rollup_buckets_loaded: AtomicU64,
}

/// An evaluation request: an instant query has `start == end`.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

impl Engine {
    pub fn new(store: Arc<dyn Source>, limits: Limits) -> Self {
        Self {
            store,
            limits,
            use_rollups: true,
            stats: Arc::default(),
        }
    }

    /// A copy that reads raw samples only (to compare against rollups).
    pub fn without_rollups(&self) -> Self {
        let mut e = self.clone();
        e.use_rollups = false;
        e
    }

    pub fn stats(&self) -> &QueryStats {
        &self.stats
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub async fn instant(&self, query: &str, t_ms: i64) -> Result<Value> {
        Ok(self.instant_annotated(query, t_ms).await?.0)
    }

    /// [`Self::instant`] with the warnings and infos Prometheus would give.
    pub async fn instant_annotated(
        &self,
        query: &str,
        t_ms: i64,
    ) -> Result<(Value, annotations::Annotations)> {
        let expr = parse(query)?;
        self.run(
            &expr,
            Range {
                start_ms: t_ms,
                end_ms: t_ms,
                step_ms: 0,
            },
            false,
        )
        .await
    }

    /// Returns a matrix (or an error) for a range query.
    pub async fn range(&self, query: &str, r: Range) -> Result<Value> {
        Ok(self.range_annotated(query, r).await?.0)
    }

    /// [`Self::range`] with the warnings and infos Prometheus would give.
    pub async fn range_annotated(
        &self,
        query: &str,
        r: Range,
    ) -> Result<(Value, annotations::Annotations)> {
        let expr = parse(query)?;
        if r.step_ms <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if r.end_ms < r.start_ms {
            return Err(QueryError::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        if (r.end_ms - r.start_ms) / r.step_ms >= self.limits.max_points {
            return Err(QueryError::BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
            ));
        }
        self.run(&expr, r, true).await
    }

    async fn run(
        &self,
        expr: &promql_parser::parser::Expr,
        r: Range,
        is_range: bool,
    ) -> Result<(Value, annotations::Annotations)> {
        let deadline = tokio::time::Instant::now() + self.limits.timeout;
        let timeout = self.limits.timeout;
        // The plan refers to AST nodes by address: evaluate the very
        // allocation it was made from.
        let expr = Arc::new(expr.clone());
        let work = async {
            let data = plan::load(
                self.store.as_ref(),
                &expr,
                r,
                &self.limits,
                self.use_rollups,
            )
            .await?;
            self.stats
                .samples_loaded
                .fetch_add(data.samples as u64, Relaxed);
            self.stats
                .rollup_buckets_loaded
                .fetch_add(data.buckets as u64, Relaxed);
            let ev = eval::Evaluator::new(r, &self.limits, data, deadline.into_std());
            let expr = expr.clone();
            // Evaluation is CPU-bound: keep it off the async workers.
            tokio::task::spawn_blocking(move || {
                let v = if is_range {
                    ev.eval_range(&expr)
                } else {
                    ev.eval_instant(&expr)
                }?;
                Ok((v, ev.notes.take()))
            })
            .await
            .map_err(|e| QueryError::Internal(e.to_string()))?
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(v) => v,
            Err(_) => Err(QueryError::Timeout(format!("{timeout:?}"))),
        }
    }

    /// The latest sample (within the lookback) of every series matching any
    /// of `selectors`, with its own timestamp: what `/federate` serves.
    pub async fn latest(&self, selectors: &[&str], t_ms: i64) -> Result<Vec<Sample>> {
        let r = Range {
            start_ms: t_ms,
            end_ms: t_ms,
            step_ms: 0,
        };
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for sel in selectors {
            let expr = parse_param("match[]", sel)?;
            let promql_parser::parser::Expr::VectorSelector(vs) = &expr else {
                return Err(QueryError::BadData(format!(
                    "{sel:?} is not a series selector"
                )));
            };
            let data = plan::load(self.store.as_ref(), &expr, r, &self.limits, false).await?;
            let ev = eval::Evaluator::new(
                r,
                &self.limits,
                data,
                std::time::Instant::now() + self.limits.timeout,
            );
            for s in ev.select_instant_at(vs, t_ms, true) {
                if seen.insert(value::signature(&s.metric)) {
                    out.push(s);
                }
            }
        }
        out.sort_by(|a, b| {
            a.metric
                .get(value::NAME)
                .cmp(&b.metric.get(value::NAME))
                .then_with(|| a.metric.cmp(&b.metric))
        });
        Ok(out)
    }

    /// A copy with a shorter timeout (the API's `timeout` parameter).
    pub fn with_timeout(&self, timeout: std::time::Duration) -> Self {
        let mut e = self.clone();
        e.limits.timeout = e.limits.timeout.min(timeout);
        e
    }

    pub fn source(&self) -> &Arc<dyn Source> {
        &self.store
    }
}
