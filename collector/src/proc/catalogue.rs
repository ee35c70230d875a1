//! The TYPE and HELP of every host family, as node_exporter writes them,
//! for the collector's `/metrics` and the server's metadata API. Fixed
//! names come from `catalogue.tsv` (regenerated from an installed
//! node_exporter by `scripts/node_exporter_catalogue.sh`); names that carry
//! a field follow node_exporter's rules below.

use dozor_common::expo::MetricType;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("catalogue.tsv");

fn table() -> &'static HashMap<&'static str, (MetricType, &'static str)> {
    static T: OnceLock<HashMap<&'static str, (MetricType, &'static str)>> = OnceLock::new();
    T.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let mut f = l.splitn(3, '\t');
                let (name, kind, help) = (f.next()?, f.next()?, f.next().unwrap_or(""));
                Some((name, (kind_of(kind), help)))
            })
            .collect()
    })
}

fn kind_of(text: &str) -> MetricType {
    match text {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        _ => MetricType::Untyped,
    }
}

/// node_exporter's type and help for `family`; None for a name it does
/// not know.
pub fn describe(family: &str) -> Option<(MetricType, Cow<'static, str>)> {
    if let Some((kind, help)) = table().get(family) {
        return Some((*kind, Cow::Borrowed(help)));
    }
    if let Some(field) = family.strip_prefix("node_memory_") {
        return Some((
            MetricType::Gauge,
            format!("Memory information field {field}.").into(),
        ));
    }
    if let Some(field) = family.strip_prefix("node_vmstat_") {
        return Some((
            MetricType::Untyped,
            format!("/proc/vmstat information field {field}.").into(),
        ));
    }
    if let Some(rest) = family.strip_prefix("node_netstat_") {
        let (proto, field) = rest.split_once('_')?;
        return Some((
            MetricType::Untyped,
            format!("Statistic {proto}{field}.").into(),
        ));
    }
    if let Some(rest) = family.strip_prefix("node_sockstat_") {
        let (proto, state) = rest.split_once('_')?;
        return Some((
            MetricType::Gauge,
            format!("Number of {proto} sockets in state {state}.").into(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_patterned_names_are_described() {
        let (k, h) = describe("node_cpu_seconds_total").unwrap();
        assert_eq!(k, MetricType::Counter);
        assert_eq!(h, "Seconds the CPUs spent in each mode.");
        let (k, h) = describe("node_memory_MemTotal_bytes").unwrap();
        assert_eq!(k, MetricType::Gauge);
        assert_eq!(h, "Memory information field MemTotal_bytes.");
        assert_eq!(
            describe("node_netstat_Tcp_InSegs").unwrap().1,
            "Statistic TcpInSegs."
        );
        assert_eq!(
            describe("node_sockstat_TCP_tw").unwrap().1,
            "Number of TCP sockets in state tw."
        );
        assert!(describe("dozor_agent_passes_total").is_none());
    }
}
