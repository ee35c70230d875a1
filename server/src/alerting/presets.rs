//! The rule editor's presets: the common alerts as filled forms, each
//! with one number a person picks ("CPU busy above [90] % for 5 minutes").

use super::ui_rules::{plain, RuleForm};

/// The presets: (key, title, the sentence before and after the number,
/// default), read as "Host down — after [5] minutes without data".
pub const PRESETS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "host_down",
        "Host down",
        "after",
        "minutes without data",
        "5",
    ),
    ("cpu", "CPU busy", "above", "% for 5 minutes", "90"),
    ("memory", "Memory used", "above", "% for 5 minutes", "90"),
    ("disk", "Disk used", "above", "% for 10 minutes", "90"),
    (
        "disk_fill",
        "Disk full within 24 h",
        "judging by the last",
        "hours",
        "6",
    ),
    (
        "container_restarts",
        "Container restarting",
        "more than",
        "restarts in 10 minutes",
        "3",
    ),
    (
        "container_unhealthy",
        "Container unhealthy",
        "for",
        "minutes",
        "2",
    ),
    (
        "container_oom",
        "Container killed for memory",
        "in the last",
        "minutes",
        "10",
    ),
    ("target_down", "Scrape target down", "for", "minutes", "2"),
    (
        "service_errors",
        "Service answering 5xx",
        "above",
        "% of requests for 5 minutes",
        "5",
    ),
    (
        "service_latency",
        "Service slow (p95)",
        "above",
        "seconds for 5 minutes",
        "1",
    ),
    (
        "service_silent",
        "Service gets no requests",
        "for",
        "minutes",
        "15",
    ),
    (
        "probe_down",
        "Probe down from most agents",
        "for",
        "minutes",
        "3",
    ),
    (
        "probe_slow",
        "Probe slow",
        "above",
        "seconds for 5 minutes",
        "2",
    ),
    (
        "cert_expiry",
        "Certificate expires soon",
        "within",
        "days",
        "14",
    ),
];

const FS: &str = r#"fstype!~"tmpfs|overlay|squashfs""#;

/// A preset with its parameter, as a filled form.
pub fn preset(key: &str, param: &str) -> Result<RuleForm, String> {
    let p: f64 = param
        .trim()
        .parse()
        .ok()
        .filter(|p: &f64| p.is_finite() && *p > 0.0)
        .ok_or_else(|| {
            format!("the preset's parameter must be a positive number, not {param:?}")
        })?;
    let n = plain(p);
    let below = |d: f64| plain((p - d).max(0.0));
    let host = "{{ $labels.host }}";
    let service = "{{ $labels.service }}";
    let form = |name: &str, expr: String, for_: &str, severity: &str, summary: String| RuleForm {
        name: name.into(),
        expr,
        for_: for_.into(),
        severity: severity.into(),
        summary,
        ..Default::default()
    };
    Ok(match key {
        "host_down" => RuleForm {
            inhibits: "host".into(),
            ..form(
                "HostDown",
                format!("group by (host) (max_over_time(node_boot_time_seconds[24h])) unless group by (host) (max_over_time(node_boot_time_seconds[{n}m]))"),
                "",
                "critical",
                format!("{host} has sent nothing for {n} minutes"),
            )
        },
        "cpu" => RuleForm {
            recovery_threshold: below(10.0),
            ..form(
                "HighCpu",
                format!(r#"100 * (1 - avg by (host) (rate(node_cpu_seconds_total{{mode="idle"}}[5m]))) > {n}"#),
                "5m",
                "warning",
                format!("CPU on {host} at {{{{ $value | humanize }}}}%"),
            )
        },
        "memory" => RuleForm {
            recovery_threshold: below(5.0),
            ..form(
                "HighMemory",
                format!("100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) > {n}"),
                "5m",
                "warning",
                format!("Memory on {host} at {{{{ $value | humanize }}}}%"),
            )
        },
        "disk" => RuleForm {
            recovery_threshold: below(5.0),
            ..form(
                "DiskFull",
                format!("100 * (1 - node_filesystem_avail_bytes{{{FS}}} / node_filesystem_size_bytes{{{FS}}}) > {n}"),
                "10m",
                "critical",
                format!("{{{{ $labels.mountpoint }}}} on {host} at {{{{ $value | humanize }}}}%"),
            )
        },
        "disk_fill" => form(
            "DiskFillingUp",
            format!("predict_linear(node_filesystem_avail_bytes{{{FS}}}[{n}h], 86400) < 0"),
            "30m",
            "warning",
            format!("{{{{ $labels.mountpoint }}}} on {host} will be full within 24 h"),
        ),
        "container_restarts" => form(
            "ContainerRestarting",
            format!("increase(dozor_container_restarts_total[10m]) > {n}"),
            "",
            "warning",
            format!("{{{{ $labels.container }}}} on {host} restarted {{{{ $value }}}} times in 10 minutes"),
        ),
        "container_unhealthy" => form(
            "ContainerUnhealthy",
            r#"dozor_container_health{health="unhealthy"} == 1"#.to_string(),
            &format!("{n}m"),
            "warning",
            format!("{{{{ $labels.container }}}} on {host} is unhealthy"),
        ),
        "container_oom" => form(
            "ContainerOomKilled",
            format!("increase(dozor_container_oom_kills_total[{n}m]) > 0"),
            "",
            "critical",
            format!("{{{{ $labels.container }}}} on {host} was killed for running out of memory"),
        ),
        "target_down" => form(
            "TargetDown",
            "up == 0".to_string(),
            &format!("{n}m"),
            "warning",
            "{{ $labels.job }} at {{ $labels.instance }} is down".to_string(),
        ),
        "service_errors" => RuleForm {
            recovery_threshold: plain(p / 2.0),
            ..form(
                "ServiceErrors",
                format!(r#"100 * sum by (service) (rate(dozor_http_requests_total{{code=~"5.."}}[5m])) / sum by (service) (rate(dozor_http_requests_total[5m])) > {n}"#),
                "5m",
                "critical",
                format!("{service} answers {{{{ $value | humanize }}}}% of its requests with 5xx"),
            )
        },
        "service_latency" => form(
            "ServiceSlow",
            format!(r#"histogram_quantile(0.95, sum by (service, le) (rate(dozor_http_request_duration_seconds_bucket{{service!=""}}[5m]))) > {n}"#),
            "5m",
            "warning",
            format!("{service} p95 at {{{{ $value | humanizeDuration }}}}"),
        ),
        // The count series exists from the moment the agent knows the
        // service, so silence is a zero increase, not a missing series;
        // the offset keeps a service younger than the window quiet.
        "service_silent" => form(
            "ServiceSilent",
            format!(r#"sum by (service) (increase(dozor_http_request_duration_seconds_count{{service!=""}}[{n}m])) == 0 and on (service) sum by (service) (dozor_http_request_duration_seconds_count{{service!=""}} offset {n}m)"#),
            "",
            "warning",
            format!("{service} has had no request for {n} minutes"),
        ),
        // Averaged over the agents that run a probe: down from most of
        // them, so one agent's own network trouble does not page.
        "probe_down" => form(
            "ProbeDown",
            "avg without (host) (probe_success) < 0.5".to_string(),
            &format!("{n}m"),
            "critical",
            "{{ $labels.service }}{{ $labels.instance }} is down from most agents probing it"
                .to_string(),
        ),
        "probe_slow" => form(
            "ProbeSlow",
            format!("avg without (host) (probe_duration_seconds) > {n}"),
            "5m",
            "warning",
            "{{ $labels.service }}{{ $labels.instance }} answers probes in {{ $value | humanizeDuration }}"
                .to_string(),
        ),
        "cert_expiry" => form(
            "CertificateExpiring",
            format!("min without (host) (probe_ssl_earliest_cert_expiry) - time() < {n} * 86400"),
            "10m",
            "warning",
            "the certificate of {{ $labels.service }}{{ $labels.instance }} expires in {{ $value | humanizeDuration }}"
                .to_string(),
        ),
        other => return Err(format!("no preset called {other:?}")),
    })
}
