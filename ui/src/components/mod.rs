//! Shared pieces: the app shell, dashboard panels and the containers table.

pub mod containers;
pub mod panel;
pub mod shell;
