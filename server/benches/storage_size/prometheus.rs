//! The baseline: the same samples in a real Prometheus TSDB. They are
//! written as OpenMetrics and turned into blocks by Debian's promtool
//! (`tsdb create-blocks-from openmetrics`, Prometheus's own backfill),
//! which cuts 2-hour blocks with 120-sample chunks as a running Prometheus
//! does. A running server would later compact the blocks into larger ones:
//! that merges the per-block indexes but copies the chunks as they are, so
//! the chunk bytes are reported apart from the rest.

use dozor_common::expo::escape_label_value_into;
use dozor_common::model::format_value;
use dozor_common::SeriesBatch;
use std::io::Write;
use std::path::Path;
use std::process::Command;

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
pub fn size(mut series: Vec<SeriesBatch>) -> Option<Size> {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("samples.om");
    // OpenMetrics wants a family's series together.
    series.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&input).expect("om file"));
        let mut key = String::new();
        for s in &series {
            key.clear();
            key.push_str(&s.name);
            key.push('{');
            for (i, (k, v)) in s.labels.iter().enumerate() {
                if i > 0 {
                    key.push(',');
                }
                key.push_str(k);
                key.push_str("=\"");
                escape_label_value_into(&mut key, v);
                key.push('"');
            }
            key.push('}');
            for p in &s.samples {
                let (secs, ms) = (p.ts_ms.div_euclid(1000), p.ts_ms.rem_euclid(1000));
                writeln!(out, "{key} {} {secs}.{ms:03}", format_value(p.value)).expect("write");
            }
        }
        writeln!(out, "# EOF").expect("write");
    }
    drop(series);
    let blocks = dir.path().join("blocks");
    let run = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(&input)
        .arg(&blocks)
        .output();
    match run {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            println!(
                "Prometheus: promtool failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        Err(e) => {
            println!("Prometheus: cannot run promtool ({e}); apt-get install prometheus");
            return None;
        }
    }
    let (mut chunks, mut total) = (0, 0);
    dir_size(&blocks, &mut chunks, &mut total);
    Some(Size { chunks, total })
}
