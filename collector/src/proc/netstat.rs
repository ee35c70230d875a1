//! `/proc/net/netstat`, `snmp` and `snmp6` as node_exporter's netstat
//! collector with its default field set: TCP retransmits, resets, listen
//! drops and overflows, SYN cookies, UDP buffer errors, every `InErrors`,
//! as `node_netstat_<Proto>_<Field>`.

use super::{read_file, ProcError};
use crate::output::Output;
use std::path::Path;

/// node_exporter's default `--collector.netstat.fields`:
/// `^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$`
fn wanted(proto: &str, field: &str) -> bool {
    let any = |list: &[&str]| list.contains(&field);
    field == "InErrors"
        || field == "InErrs"
        || (proto == "Ip" && field == "Forwarding")
        || (matches!(proto, "Ip6" | "IpExt") && any(&["InOctets", "OutOctets"]))
        || (matches!(proto, "Icmp" | "Icmp6") && any(&["InMsgs", "OutMsgs"]))
        || (proto == "TcpExt"
            && (field.starts_with("Listen")
                || field.starts_with("Syncookies")
                || any(&["TCPSynRetrans", "TCPTimeouts"])))
        || (proto == "Tcp"
            && any(&[
                "ActiveOpens",
                "InSegs",
                "OutSegs",
                "OutRsts",
                "PassiveOpens",
                "RetransSegs",
                "CurrEstab",
            ]))
        || (matches!(proto, "Udp" | "Udp6")
            && any(&[
                "InDatagrams",
                "OutDatagrams",
                "NoPorts",
                "RcvbufErrors",
                "SndbufErrors",
            ]))
}

pub fn collect(
    netstat: &Path,
    snmp: &Path,
    snmp6: &Path,
    out: &mut Output,
) -> Result<(), ProcError> {
    for path in [netstat, snmp] {
        paired(&read_file(path)?, out).map_err(|m| ProcError::new(path, m))?;
    }
    // Without IPv6 the file is absent: nothing to add.
    if snmp6.exists() {
        flat(&read_file(snmp6)?, out);
    }
    Ok(())
}

fn push(out: &mut Output, proto: &str, field: &str, value: &str) {
    if !wanted(proto, field) {
        return;
    }
    // One unreadable value is skipped; the rest still count.
    if let Ok(v) = value.parse::<f64>() {
        out.push(&format!("node_netstat_{proto}_{field}"), &[], v);
    }
}

/// `Proto: names…` followed by `Proto: values…`.
fn paired(text: &str, out: &mut Output) -> Result<(), String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for pair in lines.chunks(2) {
        let [names, values] = pair else {
            return Err("a header line without its values".into());
        };
        let (proto, names) = names.split_once(':').ok_or("line without ':'")?;
        let (proto2, values) = values.split_once(':').ok_or("line without ':'")?;
        if proto != proto2 {
            return Err(format!("{proto} header followed by {proto2} values"));
        }
        for (field, value) in names
            .split_ascii_whitespace()
            .zip(values.split_ascii_whitespace())
        {
            push(out, proto, field, value);
        }
    }
    Ok(())
}

/// `snmp6`: `Ip6InReceives 123`, the protocol a prefix of the name.
fn flat(text: &str, out: &mut Output) {
    for line in text.lines() {
        let Some((key, value)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Some(proto) = ["UdpLite6", "Icmp6", "Udp6", "Ip6"]
            .into_iter()
            .find(|p| key.starts_with(p))
        else {
            continue;
        };
        push(out, proto, &key[proto.len()..], value.trim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fields_from_paired_and_flat_files() {
        let mut out = Output::new(0);
        paired(
            "TcpExt: SyncookiesSent ListenDrops TCPSynRetrans PruneCalled\nTcpExt: 1 2 3 4\nTcp: RtoMin CurrEstab InErrs\nTcp: 200 7 0\n",
            &mut out,
        )
        .unwrap();
        flat(
            "Ip6InOctets 10\nIp6InReceives 3\nUdp6InErrors 0\nUdpLite6InErrors 0\n",
            &mut out,
        );
        assert_eq!(out.find("node_netstat_TcpExt_ListenDrops", &[]), Some(2.0));
        assert_eq!(
            out.find("node_netstat_TcpExt_TCPSynRetrans", &[]),
            Some(3.0)
        );
        assert_eq!(out.find("node_netstat_TcpExt_PruneCalled", &[]), None);
        assert_eq!(out.find("node_netstat_Tcp_CurrEstab", &[]), Some(7.0));
        assert_eq!(out.find("node_netstat_Tcp_InErrs", &[]), Some(0.0));
        assert_eq!(out.find("node_netstat_Ip6_InOctets", &[]), Some(10.0));
        assert_eq!(out.find("node_netstat_UdpLite6_InErrors", &[]), Some(0.0));
        assert_eq!(out.find("node_netstat_Ip6_InReceives", &[]), None);
        assert!(paired("Tcp: A B\n", &mut out).is_err());
        assert!(paired("Tcp: A\nUdp: 1\n", &mut out).is_err());
    }
}
