//! node_exporter's textfile collector: every `*.prom` file in a directory
//! (metrics a cron job or script writes, e.g. the time of the last good
//! backup) goes out with the host pass, plus `node_textfile_mtime_seconds`
//! per file and `node_textfile_scrape_error`. A file that cannot be read
//! whole (bad syntax, a client-side timestamp, a series another file
//! already gave, too large) is left out alone and reported; the other
//! files still count.

use super::ProcError;
use crate::output::{Description, Output};
use dozor_common::expo::{Format, Parser};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One file's size at most: a runaway script must not eat the collector.
pub const FILE_LIMIT: u64 = 16 << 20;
/// Series from all files together at most, per pass.
pub const SERIES_LIMIT: usize = 100_000;

type Key = (String, Vec<(String, String)>);

pub fn collect(dir: &Path, out: &mut Output) -> Vec<ProcError> {
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.push("node_textfile_scrape_error", &[], 1.0);
            return vec![ProcError::new(dir, e)];
        }
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "prom") && p.is_file())
        .collect();
    files.sort();
    let mut seen: HashSet<Key> = HashSet::new();
    for path in files {
        // The whole path, as node_exporter labels it (several directories
        // may hold a file of the same name).
        let name = path.display().to_string();
        match read_one(&path, &mut seen) {
            Ok((samples, described, mtime)) => {
                for (sample, d) in described {
                    out.describe(&sample, d);
                }
                for ((metric, labels), v) in samples {
                    let l: Vec<(&str, &str)> = labels
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    out.push(&metric, &l, v);
                }
                out.push("node_textfile_mtime_seconds", &[("file", &name)], mtime);
            }
            Err(e) => errors.push(ProcError::new(&path, e)),
        }
    }
    let failed = if errors.is_empty() { 0.0 } else { 1.0 };
    out.push("node_textfile_scrape_error", &[], failed);
    errors
}

/// What one file gives: its samples, each sample name's family with the
/// file's TYPE and HELP, and the file's mtime.
type FileRead = (Vec<(Key, f64)>, Vec<(String, Description)>, f64);

/// A whole file's samples (nothing of it on any error) and its mtime.
fn read_one(path: &Path, seen: &mut HashSet<Key>) -> Result<FileRead, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > FILE_LIMIT {
        return Err(format!(
            "{} bytes: larger than the {FILE_LIMIT} byte limit",
            meta.len()
        ));
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64());
    // Read through the limit too: a file still being written may have
    // grown since its size was looked at.
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(path).map_err(|e| e.to_string())?,
            FILE_LIMIT + 1,
        ),
        &mut text,
    )
    .map_err(|e| e.to_string())?;
    if text.len() as u64 > FILE_LIMIT {
        return Err(format!("larger than the {FILE_LIMIT} byte limit"));
    }
    let mut p = Parser::new(&text, Format::Text).strict();
    let mut samples = Vec::new();
    let mut keys = Vec::new();
    let mut families: HashMap<String, String> = HashMap::new();
    while let Some(s) = p.next_sample() {
        let s = s.map_err(|e| e.to_string())?;
        if !families.contains_key(s.name) {
            families.insert(s.name.to_string(), s.family.to_string());
        }
        if s.timestamp_ms.is_some() {
            return Err(format!(
                "{} has a client-side timestamp, which textfiles may not carry",
                s.name
            ));
        }
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        let key = (s.name.to_string(), labels);
        if seen.contains(&key) || keys.contains(&key) {
            return Err(format!("{} is given twice", s.name));
        }
        if seen.len() + keys.len() >= SERIES_LIMIT {
            return Err(format!("more than {SERIES_LIMIT} series in the textfiles"));
        }
        keys.push(key.clone());
        samples.push((key, s.value));
    }
    seen.extend(keys);
    // node_exporter's words for a family the file does not describe.
    let described = families
        .into_iter()
        .map(|(name, family)| {
            let kind = crate::exposition::metric_type(p.kind(&family));
            let help = p.help(&family).map_or_else(
                || format!("Metric read from {}", path.display()),
                |h| h.into_owned(),
            );
            (name, Description { family, kind, help })
        })
        .collect();
    Ok((samples, described, mtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_files_count_and_bad_ones_are_left_out_alone() {
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str, t: &str| std::fs::write(dir.path().join(n), t).unwrap();
        w(
            "backup.prom",
            "# TYPE backup_last_ok gauge\nbackup_last_ok{job=\"db\"} 1.7e9\n",
        );
        w("broken.prom", "cron_runs{ 3\n");
        w("stamped.prom", "cron_runs 3 1700000000000\n");
        w("zz_again.prom", "backup_last_ok{job=\"db\"} 1\n");
        w("ignored.txt", "not_read 1\n");
        let mut out = Output::new(0);
        let errors = collect(dir.path(), &mut out);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(out.find("backup_last_ok", &[("job", "db")]), Some(1.7e9));
        assert_eq!(out.find("node_textfile_scrape_error", &[]), Some(1.0));
        assert!(out
            .find(
                "node_textfile_mtime_seconds",
                &[(
                    "file",
                    &dir.path().join("backup.prom").display().to_string()
                )]
            )
            .is_some_and(|t| t > 1e9));
        assert!(out
            .find(
                "node_textfile_mtime_seconds",
                &[(
                    "file",
                    &dir.path().join("broken.prom").display().to_string()
                )]
            )
            .is_none());
        assert_eq!(out.find("not_read", &[]), None);
    }

    #[test]
    fn a_file_s_own_type_and_help_describe_its_families() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("job.prom"),
            "# HELP job_seconds How long the nightly job took.\n# TYPE job_seconds histogram\n\
             job_seconds_bucket{le=\"60\"} 1\njob_seconds_bucket{le=\"+Inf\"} 2\n\
             job_seconds_sum 130\njob_seconds_count 2\nplain_thing 1\n",
        )
        .unwrap();
        let mut out = Output::new(0);
        assert!(collect(dir.path(), &mut out).is_empty());
        let bucket = out.description("job_seconds_bucket").unwrap();
        assert_eq!(bucket.family, "job_seconds");
        assert_eq!(bucket.kind, dozor_common::expo::MetricType::Histogram);
        assert_eq!(bucket.help, "How long the nightly job took.");
        let plain = out.description("plain_thing").unwrap();
        assert_eq!(plain.kind, dozor_common::expo::MetricType::Untyped);
        assert!(plain.help.contains("job.prom"), "{}", plain.help);
        // Host families keep node_exporter's words.
        assert_eq!(
            out.description("node_textfile_scrape_error").unwrap().help,
            "1 if there was an error opening or reading a file, 0 otherwise"
        );
    }

    #[test]
    fn a_huge_file_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(dir.path().join("huge.prom")).unwrap();
        f.set_len(FILE_LIMIT + 1).unwrap();
        let mut out = Output::new(0);
        let errors = collect(dir.path(), &mut out);
        assert!(errors[0].to_string().contains("limit"), "{errors:?}");
        let mut none = Output::new(0);
        let missing = collect(&dir.path().join("nope"), &mut none);
        assert_eq!(missing.len(), 1);
        assert_eq!(none.find("node_textfile_scrape_error", &[]), Some(1.0));
    }
}
