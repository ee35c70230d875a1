//! Label limits per series: how many labels, and how long names and values
//! may be. Past them the series is refused (alone) with a message naming
//! the label, instead of bloating the catalog. These are the only label
//! limits: heartbeats and remote_write share them.

use dozor_common::SeriesBatch;

#[derive(Debug, Clone, Copy)]
pub struct LabelLimits {
    /// Labels on one series, not counting the metric name.
    pub max_labels: usize,
    pub max_name_bytes: usize,
    pub max_value_bytes: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        // Mimir's defaults are 30 labels and 1024/2048 bytes; dozor adds
        // `host` and target labels, so it allows a little more.
        Self {
            max_labels: 40,
            max_name_bytes: 1024,
            max_value_bytes: 2048,
        }
    }
}

/// The first limit `s` goes past, in the one wording every path uses.
pub fn check(s: &SeriesBatch, l: &LabelLimits) -> Result<(), String> {
    if s.labels.len() > l.max_labels {
        return Err(format!(
            "{} labels on one series; the limit is {}",
            s.labels.len(),
            l.max_labels
        ));
    }
    if s.name.len() > l.max_name_bytes {
        return Err(format!(
            "metric name of {} bytes; the limit is {}",
            s.name.len(),
            l.max_name_bytes
        ));
    }
    for (k, v) in &s.labels {
        if k.len() > l.max_name_bytes {
            return Err(format!(
                "label name of {} bytes; the limit is {}",
                k.len(),
                l.max_name_bytes
            ));
        }
        if v.len() > l.max_value_bytes {
            return Err(format!(
                "value of label {k:?} has {} bytes; the limit is {}",
                v.len(),
                l.max_value_bytes
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dozor_common::{Labels, Sample};

    fn series(labels: &[(&str, String)]) -> SeriesBatch {
        let l: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        SeriesBatch::new("m", l, vec![Sample::new(0, 1.0)])
    }

    #[test]
    fn refuses_past_each_limit_naming_it() {
        let l = LabelLimits {
            max_labels: 2,
            max_name_bytes: 8,
            max_value_bytes: 4,
        };
        assert!(check(&series(&[("a", "1".into()), ("b", "2".into())]), &l).is_ok());
        let many = series(&[("a", "1".into()), ("b", "2".into()), ("c", "3".into())]);
        assert_eq!(
            check(&many, &l).unwrap_err(),
            "3 labels on one series; the limit is 2"
        );
        let long = series(&[("a", "12345".into())]);
        assert_eq!(
            check(&long, &l).unwrap_err(),
            "value of label \"a\" has 5 bytes; the limit is 4"
        );
        let name = series(&[("abcdefghi", "1".into())]);
        assert!(check(&name, &l)
            .unwrap_err()
            .contains("label name of 9 bytes"));
    }
}
