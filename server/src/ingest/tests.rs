//! Unit tests of the ingest path's checks.
use super::*;
use dozor_common::{Sample, SeriesBatch};

fn req(labels: &[(&str, &str)], ts: i64) -> HeartbeatRequest {
    HeartbeatRequest {
        series: vec![SeriesBatch::new(
            "up",
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            vec![Sample::new(ts, 1.0)],
        )],
        ..Default::default()
    }
}

#[test]
fn stamps_host_and_refuses_other_hosts() {
    let l = Limits::default();
    let mut r = req(&[("job", "x")], 1_000);
    assert!(prepare(Some("a"), &mut r, 1_000, 10_000, &l)
        .unwrap()
        .rejected
        .is_empty());
    assert_eq!(r.series[0].labels["host"], "a");
    let mut r = req(&[("host", "a")], 1_000);
    assert!(prepare(Some("a"), &mut r, 1_000, 10_000, &l).is_ok());
    let mut r = req(&[("host", "b")], 1_000);
    match prepare(Some("a"), &mut r, 1_000, 10_000, &l) {
        Err(IngestError::Forbidden { field, .. }) => {
            assert_eq!(field.as_deref(), Some("series[0].labels.host"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sets_aside_samples_outside_the_time_range_alone() {
    let l = Limits::default();
    let now = 100_000_000;
    let mut r = req(&[], now - 2_000);
    r.series[0].samples.push(Sample::new(5, 1.0));
    r.series[0]
        .samples
        .push(Sample::new(now + 11 * 60_000, 1.0));
    let c = prepare(Some("a"), &mut r, now, 1_000_000, &l).unwrap();
    assert_eq!(r.series[0].samples, vec![Sample::new(now - 2_000, 1.0)]);
    assert_eq!((c.too_old(), c.rejected.samples), (1, 2));
    assert!(c.rejected.examples[0].contains("older than the retention window"));
    assert!(c.rejected.examples[1].contains("ahead of the server clock"));
    let mut r = req(&[], 5);
    prepare(Some("a"), &mut r, now, 1_000, &l).unwrap();
    assert!(
        r.series.is_empty(),
        "a series left with nothing is not stored"
    );
}

#[test]
fn refuses_a_bad_series_alone() {
    let l = Limits::default();
    let good = SeriesBatch::new("up", Default::default(), vec![Sample::new(1_000, 1.0)]);
    let nul = SeriesBatch::new(
        "up",
        [("job".to_string(), "a\0b".to_string())].into(),
        vec![Sample::new(1_000, 1.0)],
    );
    // Names are UTF-8 as in Prometheus 3 ("1up", `__type__` are fine);
    // an empty name and `__name__` as a label are not.
    let utf8 = SeriesBatch::new(
        "1up",
        [("__type__".to_string(), "gauge".to_string())].into(),
        vec![Sample::new(1_000, 1.0)],
    );
    let bad_name = SeriesBatch::new("", Default::default(), vec![Sample::new(1_000, 1.0)]);
    let reserved = SeriesBatch::new(
        "up",
        [("__name__".to_string(), "other".to_string())].into(),
        vec![Sample::new(1_000, 1.0)],
    );
    let many = SeriesBatch::new(
        "up",
        (0..41)
            .map(|i| (format!("l{i}"), "x".to_string()))
            .collect(),
        vec![Sample::new(1_000, 1.0)],
    );
    let mut r = HeartbeatRequest {
        series: vec![nul, good, bad_name, reserved, many, utf8],
        ..Default::default()
    };
    let c = prepare(Some("a"), &mut r, 1_000, 10_000, &l).unwrap();
    assert_eq!(r.series.len(), 2, "the good ones stay");
    assert_eq!(c.rejected.series, 4);
    let reasons: Vec<&str> = c.series_reasons.keys().copied().collect();
    assert_eq!(
        reasons,
        ["invalid_label", "invalid_name", "label_limit", "nul_byte"]
    );
    assert!(c.rejected.examples[0]
        .starts_with("series[0] (up): value of label \"job\" contains a NUL byte"));
    assert!(c.rejected.examples[3].contains("41 labels on one series; the limit is 40"));
}

#[test]
fn decode_names_the_bad_field() {
    let l = Limits::default();
    let body =
        br#"{"series":[{"name":"up","samples":[[1,2]]},{"name":"x","samples":[[1,"lots"]]}]}"#;
    match decode(body, None, &l) {
        Err(IngestError::BadRequest { field, message }) => {
            assert!(field.unwrap().starts_with("series[1].samples"), "{message}");
            assert!(message.contains("line 1"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let bomb = zstd::bulk::compress(&vec![b' '; 2 << 20], 3).unwrap();
    let small = Limits {
        max_decoded_bytes: 1 << 20,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&bomb, Some("zstd"), &small),
        Err(IngestError::TooLarge(_))
    ));
    assert!(matches!(
        decode(b"x", Some("br"), &l),
        Err(IngestError::BadRequest { .. })
    ));
    assert!(matches!(
        decode(b"\x28\xb5\x2f\xfd garbage", Some("zstd"), &l),
        Err(IngestError::BadRequest { .. })
    ));
}
