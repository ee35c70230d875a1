//! The dashboard: pages rendered on the server with Leptos (`ssr` only),
//! SVG charts, and dashboards as code. Data comes through [`DataSource`],
//! which the server implements; this crate does no I/O besides reading
//! dashboard files.

pub mod assets;
pub mod chart;
pub mod components;
pub mod dashboards;
pub mod pages;
pub mod source;
pub mod state;

pub use components::shell::{document, Ctx};
/// Page bodies, so the server can hold one without depending on leptos.
pub use leptos::prelude::AnyView;
pub use source::{AgentInfo, ContainerRow, DataSource, InstantData, QueryFailed, SeriesData};
pub use state::ViewState;
