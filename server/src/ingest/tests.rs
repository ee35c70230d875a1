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
    assert_eq!(prepare(Some("a"), &mut r, 1_000, 10_000, &l).unwrap(), 0);
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
fn drops_too_old_and_rejects_future() {
    let l = Limits::default();
    let mut r = req(&[], 5);
    assert_eq!(prepare(Some("a"), &mut r, 100_000, 1_000, &l).unwrap(), 1);
    assert!(r.series.is_empty());
    let mut r = req(&[], 100_000 + 11 * 60_000);
    let e = prepare(Some("a"), &mut r, 100_000, 1_000, &l).unwrap_err();
    assert!(e.to_string().contains("ahead of the server clock"), "{e}");
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
