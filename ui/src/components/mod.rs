//! Shared pieces: the app shell and dashboard panels.

pub mod panel;
pub mod shell;
