//! dozor-server: ingest, storage, the agent protocol and operations
//! endpoints. `main.rs` is the thin binary edge; everything here is a
//! library so tests and benchmarks can start a real server in-process.

pub mod alerting;
pub mod app;
pub mod auth;
pub mod autoscale;
pub mod clock;
pub mod config;
pub mod demo;
pub mod desired;
pub mod http;
pub mod ingest;
pub mod local;
pub mod maintenance;
pub mod ops;
pub mod query_cache;
/// The query engine lives in its own crate (it does no I/O); storage
/// feeds it through `storage::engine`.
pub use dozor_promql as promql;
pub mod remote_write;
pub mod self_metrics;
pub mod storage;
pub mod tasks;
pub mod telemetry;

pub use app::Server;
pub use config::Config;
