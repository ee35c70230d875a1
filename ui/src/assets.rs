//! Embedded assets, served under content-hashed names so browsers may
//! cache them forever. Nothing loads from elsewhere.

use sha2::{Digest, Sha256};
use std::sync::OnceLock;

pub const CSS: &str = include_str!("../assets/dozor.css");
/// One script: the dashboard's, then the containers tables and log view.
pub const JS: &str = concat!(
    include_str!("../assets/dozor.js"),
    include_str!("../assets/containers.js")
);
pub const FAVICON: &str = include_str!("../assets/favicon.svg");

fn hashed(prefix: &str, body: &str, ext: &str) -> String {
    let h = hex::encode(Sha256::digest(body.as_bytes()));
    format!("{prefix}-{}.{ext}", &h[..12])
}

/// File names (without `/assets/`) of the stylesheet and the script.
pub fn names() -> &'static (String, String) {
    static NAMES: OnceLock<(String, String)> = OnceLock::new();
    NAMES.get_or_init(|| (hashed("dozor", CSS, "css"), hashed("dozor", JS, "js")))
}

/// The body and content type for an asset name, if it is one of ours.
pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
    let (css, js) = names();
    if name == css {
        Some((CSS, "text/css; charset=utf-8"))
    } else if name == js {
        Some((JS, "text/javascript; charset=utf-8"))
    } else if name == "favicon.svg" {
        Some((FAVICON, "image/svg+xml"))
    } else {
        None
    }
}
