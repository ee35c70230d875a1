//! dozor's integration tests, one module per capability, built as one
//! test binary: each file used to be a binary of its own, and linking 78
//! binaries against the whole dependency tree (with `support` compiled
//! into each) was most of CI's build time. nextest still runs every test
//! in its own process.

#[macro_use]
mod support;

mod accounts_contract;
mod alert_grouping;
mod alert_identity;
mod alert_silences;
mod alerting;
mod alerts_contract;
mod api_tokens;
mod architecture;
mod auth_web;
mod autoscale;
mod autoscale_policy;
mod autoscale_reasons;
mod autoscale_restart;
mod body_limits;
mod browser;
mod builtin_rules;
mod catalog_contract;
mod certificates;
mod certificates_upload;
mod checks;
mod collector_container;
mod collector_metrics;
mod compose;
mod compose_up;
mod container_browser;
mod container_health_logs;
mod container_live;
mod container_stop;
mod containers;
mod containers_contract;
mod docker_scrape;
mod e2e;
mod first_hour;
mod forms_browser;
mod healthcheck;
mod host_metadata;
mod host_staleness;
mod hostile_ingest;
mod hostile_metadata;
mod hostile_queries;
mod invites_web;
mod local_collector;
mod log_follow_rate;
mod maintenance_bounded;
mod metrics;
mod pg_layouts;
mod prom_api;
mod prometheus_interop;
mod prometheus_same_data;
mod promql_golden;
mod promql_rollups;
mod protection_contract;
mod protection_nginx;
mod protocol;
mod protocol_v2;
mod response_headers;
mod retention_admin;
mod role_matrix;
mod rules_unit;
mod rules_web;
mod scrape;
mod self_metrics;
mod server_image;
mod server_targets;
mod services_api;
mod services_nginx;
mod services_nginx_container;
mod services_zero_drop;
mod sessions;
mod storage_chunks;
mod storage_contract;
mod task_poll;
mod telegram_bot;
mod telegram_delivery;
mod telegram_limits;
mod timescale;
mod traffic_nginx;
mod ui;
mod users_web;
