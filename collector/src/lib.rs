//! dozor's collector: host metrics from `/proc` and `/sys` (node_exporter
//! names), pushed to the server. Used by the `dozor-collector` binary and
//! embedded in `dozor-server` as its local collector.
//!
//! One folder per input (`proc/` for the host, `scrape/` for `/metrics`
//! endpoints, `docker/` for containers),
//! each turning a source into [`output::Output`] samples. The
//! [`agent::Agent`] loop queues passes and pushes them through a
//! [`sink::Sink`].

pub mod actors;
pub mod agent;
pub mod backoff;
pub mod certs;
pub mod desired;
pub mod docker;
pub mod exposition;
pub mod http;
pub mod inventory;
pub mod nginx;
pub mod output;
pub mod probes;
pub mod proc;
pub mod process;
pub mod protection;
pub mod queue;
pub mod reports;
pub mod scrape;
pub mod sink;
pub mod staleness;
pub mod state;
pub mod stats;
pub mod tasks;
pub mod traffic;
