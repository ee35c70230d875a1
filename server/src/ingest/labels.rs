//! Label limits per series: how many labels, and how long names and values
//! may be. Past them a batch is refused with 400 naming the series and the
//! label, instead of bloating the catalog.

use super::IngestError;
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

pub fn check(i: usize, s: &SeriesBatch, l: &LabelLimits) -> Result<(), IngestError> {
    if s.labels.len() > l.max_labels {
        return Err(IngestError::bad(
            format!(
                "{} labels on one series; the limit is {}",
                s.labels.len(),
                l.max_labels
            ),
            format!("series[{i}].labels"),
        ));
    }
    if s.name.len() > l.max_name_bytes {
        return Err(IngestError::bad(
            format!(
                "metric name of {} bytes; the limit is {}",
                s.name.len(),
                l.max_name_bytes
            ),
            format!("series[{i}].name"),
        ));
    }
    for (k, v) in &s.labels {
        if k.len() > l.max_name_bytes {
            return Err(IngestError::bad(
                format!(
                    "label name of {} bytes; the limit is {}",
                    k.len(),
                    l.max_name_bytes
                ),
                format!("series[{i}].labels"),
            ));
        }
        if v.len() > l.max_value_bytes {
            return Err(IngestError::bad(
                format!(
                    "value of label {k:?} has {} bytes; the limit is {}",
                    v.len(),
                    l.max_value_bytes
                ),
                format!("series[{i}].labels.{k}"),
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
    fn refuses_past_each_limit_naming_the_field() {
        let l = LabelLimits {
            max_labels: 2,
            max_name_bytes: 8,
            max_value_bytes: 4,
        };
        assert!(check(0, &series(&[("a", "1".into()), ("b", "2".into())]), &l).is_ok());
        let many = series(&[("a", "1".into()), ("b", "2".into()), ("c", "3".into())]);
        let e = check(3, &many, &l).unwrap_err();
        assert!(
            matches!(e, IngestError::BadRequest { field: Some(ref f), .. } if f == "series[3].labels"),
            "{e:?}"
        );
        let long = series(&[("a", "12345".into())]);
        let e = check(0, &long, &l).unwrap_err();
        assert!(
            matches!(e, IngestError::BadRequest { field: Some(ref f), .. } if f == "series[0].labels.a"),
            "{e:?}"
        );
        let name = series(&[("abcdefghi", "1".into())]);
        assert!(check(0, &name, &l).is_err());
    }
}
