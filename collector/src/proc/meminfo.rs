//! `/proc/meminfo`, exported like node_exporter: every field becomes
//! `node_memory_<Field>_bytes` (kB fields) or `node_memory_<Field>` (counts),
//! with `Active(anon)` written `Active_anon`.

use super::{read_file, ProcError};
use crate::output::Output;
use std::path::Path;

pub fn collect(path: &Path, out: &mut Output) -> Result<(), ProcError> {
    let text = read_file(path)?;
    parse(&text, out).map_err(|m| ProcError::new(path, m))
}

pub fn parse(text: &str, out: &mut Output) -> Result<(), String> {
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (key, rest) = line
            .split_once(':')
            .ok_or_else(|| format!("line without ':': {line:?}"))?;
        let mut parts = rest.split_ascii_whitespace();
        let value: f64 = parts
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("{key}: missing or bad value"))? as f64;
        let name: String = key
            .chars()
            .filter_map(|c| match c {
                '(' => Some('_'),
                ')' => None,
                c if c.is_ascii_alphanumeric() || c == '_' => Some(c),
                _ => Some('_'),
            })
            .collect();
        match parts.next() {
            Some("kB") => out.push(&format!("node_memory_{name}_bytes"), &[], value * 1024.0),
            None => out.push(&format!("node_memory_{name}"), &[], value),
            Some(unit) => return Err(format!("{key}: unknown unit {unit:?}")),
        }
        n += 1;
    }
    if n == 0 {
        return Err("empty file".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::tests_support::fixture;

    #[test]
    fn parses_fixture_meminfo_exactly() {
        let mut out = Output::new(0);
        collect(&fixture("meminfo"), &mut out).unwrap();
        let m = |n: &str| out.find(n, &[]);
        assert_eq!(m("node_memory_MemTotal_bytes"), Some(24_684_084.0 * 1024.0));
        assert_eq!(
            m("node_memory_MemAvailable_bytes"),
            Some(23_860_612.0 * 1024.0)
        );
        assert_eq!(m("node_memory_Active_anon_bytes"), Some(1524.0 * 1024.0));
        assert_eq!(m("node_memory_SwapTotal_bytes"), Some(0.0));
        assert_eq!(m("node_memory_HugePages_Total"), Some(0.0));
        assert_eq!(m("node_memory_Hugepagesize_bytes"), Some(2048.0 * 1024.0));
        assert_eq!(m("node_memory_DirectMap4k_bytes"), Some(34_816.0 * 1024.0));
        for must in ["MemFree", "Buffers", "Cached", "SwapFree"] {
            assert!(m(&format!("node_memory_{must}_bytes")).is_some(), "{must}");
        }
        assert_eq!(out.len(), 54);
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(parse("MemTotal 5 kB\n", &mut Output::new(0)).is_err());
        assert!(parse("MemTotal: lots kB\n", &mut Output::new(0)).is_err());
        assert!(parse("MemTotal: 5 MB\n", &mut Output::new(0)).is_err());
        assert!(parse("", &mut Output::new(0)).is_err());
    }
}
