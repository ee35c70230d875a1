//! The dashboard: pages rendered on the server with Leptos (`ssr` only),
//! SVG charts, and dashboards as code. Data comes through [`DataSource`],
//! which the server implements; this crate does no I/O of its own.

pub mod chart;
