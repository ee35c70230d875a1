//! The baseline: the same samples in a real Prometheus TSDB. They are
//! written as OpenMetrics and turned into blocks by Debian's promtool
//! (`tsdb create-blocks-from openmetrics`, Prometheus's own backfill),
//! which cuts 2-hour blocks with 120-sample chunks as a running Prometheus
//! does. A running server would later compact the blocks into larger ones:
//! that merges the per-block indexes but copies the chunks as they are, so
//! the chunk bytes are reported apart from the rest.

#[path = "../shared/promtool.rs"]
mod promtool;

use dozor_common::SeriesBatch;
use std::path::Path;

pub struct Size {
    pub chunks: u64,
    pub total: u64,
}

fn dir_size(path: &Path, chunks: &mut u64, total: &mut u64) {
    for entry in std::fs::read_dir(path).expect("block dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            dir_size(&p, chunks, total);
        } else {
            let len = entry.metadata().expect("file").len();
            *total += len;
            if p.parent().and_then(|d| d.file_name()) == Some("chunks".as_ref()) {
                *chunks += len;
            }
        }
    }
}

/// None (with the reason printed) when promtool is missing or refuses.
pub fn size(series: Vec<SeriesBatch>) -> Option<Size> {
    let dir = tempfile::tempdir().expect("temp dir");
    let blocks = match promtool::create_blocks(series, dir.path()) {
        Ok(b) => b,
        Err(e) => {
            println!("Prometheus: {e}");
            return None;
        }
    };
    let (mut chunks, mut total) = (0, 0);
    dir_size(&blocks, &mut chunks, &mut total);
    Some(Size { chunks, total })
}
