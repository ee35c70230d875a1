//! Prometheus's own backfill, shared by the benchmarks that compare with
//! a real Prometheus: samples written as OpenMetrics and turned into TSDB
//! blocks by Debian's `promtool tsdb create-blocks-from openmetrics`,
//! which cuts 2-hour blocks with 120-sample chunks as a running
//! Prometheus does.

use dozor_common::expo::escape_label_value_into;
use dozor_common::model::format_value;
use dozor_common::SeriesBatch;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `series` as blocks under `dir/blocks` (a TSDB directory a
/// Prometheus can be started on); the reason when promtool is missing or
/// refuses.
pub fn create_blocks(mut series: Vec<SeriesBatch>, dir: &Path) -> Result<PathBuf, String> {
    let input = dir.join("samples.om");
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
    let blocks = dir.join("blocks");
    let run = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(&input)
        .arg(&blocks)
        .output();
    let _ = std::fs::remove_file(&input);
    match run {
        Ok(o) if o.status.success() => Ok(blocks),
        Ok(o) => Err(format!(
            "promtool failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!(
            "cannot run promtool ({e}); apt-get install prometheus"
        )),
    }
}
