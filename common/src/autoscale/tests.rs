use super::*;

fn policy() -> Policy {
    Policy {
        service: "app".into(),
        min: 1,
        max: 3,
        up: Rule {
            threshold: 80.0,
            for_s: 60,
            step: 1,
            cooldown_s: 120,
        },
        down: Rule {
            threshold: 30.0,
            for_s: 120,
            step: 1,
            cooldown_s: 300,
        },
        ..Default::default()
    }
}

fn seen(value: f64, replicas: u32) -> Observed {
    Observed {
        value: Some(value),
        fresh: true,
        host_online: true,
        pending: false,
        replicas,
    }
}

/// Runs the rule every 10 s over `values` (one per step), acting on every
/// scale as the live loop does; the replica counts after each step.
fn replay(p: &Policy, values: &[f64], start: u32) -> (Vec<u32>, Vec<Decision>) {
    let mut mem = Memory::default();
    let mut n = start;
    let mut counts = Vec::new();
    let mut decisions = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let now = i as i64 * 10_000;
        let d = decide(p, &seen(*v, n), &mut mem, now);
        if let Decision::Scale { direction, to, .. } = d {
            acted(&mut mem, direction, now);
            n = to;
        }
        counts.push(n);
        decisions.push(d);
    }
    (counts, decisions)
}

#[test]
fn a_condition_must_hold_for_its_duration() {
    let p = policy();
    // 90% from t=0: held for 60 s at t=60 s (the 7th evaluation).
    let (counts, d) = replay(&p, &[90.0; 8], 1);
    assert_eq!(counts, [1, 1, 1, 1, 1, 1, 2, 2]);
    assert!(
        matches!(&d[0], Decision::Hold(why) if why.contains("for 0 s of 60 s")),
        "{d:?}"
    );
    // A dip resets the clock.
    let mut v = vec![90.0; 5];
    v.push(50.0);
    v.extend([90.0; 5]);
    let (counts, _) = replay(&p, &v, 1);
    assert_eq!(*counts.last().unwrap(), 1);
}

#[test]
fn cooldown_and_max_are_respected_and_said() {
    let p = policy();
    let (counts, d) = replay(&p, &[95.0; 40], 1);
    // Up at 60 s; held again by 120 s but cooling until 180 s; then max.
    assert_eq!(counts[6], 2);
    assert_eq!(counts[17], 2);
    assert_eq!(counts[18], 3);
    assert!(d
        .iter()
        .any(|x| matches!(x, Decision::Skip(Direction::Up, why) if why.starts_with("cooldown"))));
    assert!(
        matches!(d.last().unwrap(), Decision::Skip(Direction::Up, why) if why == "max reached (3)")
    );
}

#[test]
fn scale_down_is_slower_and_stops_at_min() {
    let p = policy();
    let (counts, d) = replay(&p, &[5.0; 80], 3);
    // Down at 120 s, then the down cooldown (300 s), then min.
    assert_eq!(counts[11], 3);
    assert_eq!(counts[12], 2);
    assert_eq!(counts[41], 2);
    assert_eq!(counts[42], 1);
    assert!(
        matches!(d.last().unwrap(), Decision::Skip(Direction::Down, why) if why == "min reached (1)")
    );
}

#[test]
fn a_metric_oscillating_around_the_threshold_acts_at_most_once_per_cooldown() {
    let mut p = policy();
    p.up.for_s = 0;
    p.down.for_s = 0;
    p.down.threshold = 70.0;
    p.tolerance = 0.1;
    // Swinging 65 ↔ 85 every evaluation for 10 minutes.
    let values: Vec<f64> = (0..60)
        .map(|i| if i % 2 == 0 { 85.0 } else { 65.0 })
        .collect();
    let (counts, _) = replay(&p, &values, 2);
    let changes = counts.windows(2).filter(|w| w[0] != w[1]).count() + usize::from(counts[0] != 2);
    // 600 s with a 120 s up cooldown: at most 5 ups; and no scale-down at
    // all, since 65% over fewer replicas projects above 72%.
    assert!(counts.windows(2).all(|w| w[1] >= w[0]), "{counts:?}");
    assert!(changes <= 5, "{changes} changes: {counts:?}");
}

#[test]
fn no_decision_on_stale_data_an_offline_host_or_an_unfinished_action() {
    let p = policy();
    let mut mem = Memory::default();
    let mut o = seen(95.0, 1);
    o.fresh = false;
    assert_eq!(decide(&p, &o, &mut mem, 0), Decision::Hold("stale".into()));
    o.fresh = true;
    o.host_online = false;
    assert_eq!(
        decide(&p, &o, &mut mem, 0),
        Decision::Hold("host offline".into())
    );
    o.host_online = true;
    o.pending = true;
    o.replicas = 0;
    assert_eq!(
        decide(&p, &o, &mut mem, 0),
        Decision::Skip(Direction::Up, "the previous action has not finished".into())
    );
}

#[test]
fn outside_min_and_max_goes_back_at_once() {
    let p = policy();
    let mut mem = Memory::default();
    assert_eq!(
        decide(&p, &seen(10.0, 5), &mut mem, 0),
        Decision::Scale {
            direction: Direction::Down,
            from: 5,
            to: 3
        }
    );
}

#[test]
fn policies_are_checked_field_by_field() {
    let mut p = policy();
    p.min = 5;
    p.down.threshold = 78.0;
    p.metric = Metric::Promql;
    let fields: Vec<&str> = check(&p).unwrap_err().iter().map(|e| e.0).collect();
    assert_eq!(fields, ["min", "down", "promql"]);
    assert!(check(&policy()).is_ok());
}

#[test]
fn hostile_policies_are_refused_field_by_field() {
    let mut p = policy();
    p.up.threshold = f64::NAN;
    p.max = 1_000_000;
    p.template = Some("x; rm -rf /".into());
    p.window_s = 0;
    p.drain_s = u32::MAX;
    let fields: Vec<&str> = check(&p).unwrap_err().iter().map(|e| e.0).collect();
    for f in ["up", "max", "template", "window_s", "drain_s"] {
        assert!(fields.contains(&f), "{f} not refused: {fields:?}");
    }
    // A user's expression gets only slugs substituted, never raw input.
    let q = Metric::Promql.query("app", "web-1", Some("up{service=\"$service\"}"), 60);
    assert_eq!(q, "up{service=\"app\"}");
}
