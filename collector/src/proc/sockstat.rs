//! `/proc/net/sockstat` and `sockstat6` as node_exporter's sockstat
//! collector: `node_sockstat_<PROTO>_<state>` per pair on each line,
//! `node_sockstat_sockets_used`, and `_mem_bytes` (pages × page size) next
//! to every `mem`.

use super::{read_file, ProcError};
use crate::output::Output;
use std::path::Path;

pub fn collect(v4: &Path, v6: &Path, out: &mut Output) -> Result<(), ProcError> {
    let page = rustix::param::page_size() as f64;
    parse(&read_file(v4)?, page, out).map_err(|m| ProcError::new(v4, m))?;
    // Without IPv6 the file is absent: nothing to add.
    if v6.exists() {
        parse(&read_file(v6)?, page, out).map_err(|m| ProcError::new(v6, m))?;
    }
    Ok(())
}

fn parse(text: &str, page: f64, out: &mut Output) -> Result<(), String> {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (proto, rest) = line
            .split_once(':')
            .ok_or_else(|| format!("line without ':': {line:?}"))?;
        let words: Vec<&str> = rest.split_ascii_whitespace().collect();
        if !words.len().is_multiple_of(2) {
            return Err(format!("{proto}: unpaired field"));
        }
        for pair in words.chunks(2) {
            let v: f64 = pair[1]
                .parse::<u64>()
                .map_err(|_| format!("{proto} {}: bad number", pair[0]))?
                as f64;
            if proto == "sockets" {
                out.push(&format!("node_sockstat_sockets_{}", pair[0]), &[], v);
                continue;
            }
            out.push(&format!("node_sockstat_{proto}_{}", pair[0]), &[], v);
            if pair[0] == "mem" {
                out.push(&format!("node_sockstat_{proto}_mem_bytes"), &[], v * page);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_become_gauges_and_pages_bytes() {
        let mut out = Output::new(0);
        let text = "sockets: used 290\nTCP: inuse 12 orphan 0 tw 1 alloc 12 mem 104\nUDP: inuse 0 mem 0\nFRAG: inuse 0 memory 0\n";
        parse(text, 4096.0, &mut out).unwrap();
        assert_eq!(out.find("node_sockstat_sockets_used", &[]), Some(290.0));
        assert_eq!(out.find("node_sockstat_TCP_tw", &[]), Some(1.0));
        assert_eq!(
            out.find("node_sockstat_TCP_mem_bytes", &[]),
            Some(104.0 * 4096.0)
        );
        assert_eq!(out.find("node_sockstat_FRAG_memory", &[]), Some(0.0));
        assert!(parse("TCP: inuse\n", 4096.0, &mut out).is_err());
        assert!(parse("TCP: inuse x\n", 4096.0, &mut out).is_err());
    }
}
