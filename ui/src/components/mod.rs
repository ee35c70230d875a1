//! Shared pieces: the app shell, the form layout, dashboard panels and the
//! containers table.

pub mod containers;
pub mod form;
pub mod panel;
pub mod shell;
