//! Types shared by the dozor server and collector: the Prometheus data model,
//! the agent wire protocol, duration parsing, the text exposition encoder,
//! and services (their model, validation and nginx rendering).
//!
//! Invariant: this crate does no I/O, so both binaries (and tests) can use it
//! without pulling in a runtime.

pub mod autoscale;
pub mod certs;
pub mod checks;
pub mod cidr;
pub mod containers;
pub mod desired;
pub mod duration;
pub mod expo;
pub mod json_metrics;
pub mod model;
pub mod protection;
pub mod protocol;
pub mod services;
pub mod stamps;
pub mod tasks;

pub use duration::{format_duration, parse_duration, DurationError};
pub use model::{Labels, ModelError, Sample, SeriesBatch};
