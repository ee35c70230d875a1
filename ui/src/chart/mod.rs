//! Charts: ticks, units and the SVG renderer.

pub mod paths;
pub mod svg;
pub mod ticks;
pub mod units;

pub use svg::{render, Chart, Kind, Series};
pub use units::{format, Unit};
