//! Kernel tables and their limits, one number per file under
//! `ROOT/proc/sys`: open files (node_exporter's filefd collector), the
//! entropy pool (entropy) and connection tracking (conntrack). The alerts
//! that matter are "table nearly full": a full conntrack table drops new
//! connections, a full file table fails every open().

use super::{read_file, ProcError};
use crate::output::Output;
use std::path::Path;

fn number(path: &Path) -> Result<f64, ProcError> {
    let text = read_file(path)?;
    text.trim()
        .parse::<u64>()
        .map(|n| n as f64)
        .map_err(|_| ProcError::new(path, format!("not a number: {:?}", text.trim())))
}

/// `fs/file-nr`: allocated, unused (always 0 since 2.6), maximum.
pub fn filefd(sys: &Path, out: &mut Output) -> Result<(), ProcError> {
    let path = sys.join("fs/file-nr");
    let text = read_file(&path)?;
    let fields: Vec<f64> = text
        .split_ascii_whitespace()
        .map(|v| v.parse::<u64>().map(|n| n as f64))
        .collect::<Result<_, _>>()
        .map_err(|_| ProcError::new(&path, "bad number"))?;
    let [allocated, _, maximum] = fields[..] else {
        return Err(ProcError::new(&path, "expected three numbers"));
    };
    out.push("node_filefd_allocated", &[], allocated);
    out.push("node_filefd_maximum", &[], maximum);
    Ok(())
}

pub fn entropy(sys: &Path, out: &mut Output) -> Result<(), ProcError> {
    let random = sys.join("kernel/random");
    out.push(
        "node_entropy_available_bits",
        &[],
        number(&random.join("entropy_avail"))?,
    );
    out.push(
        "node_entropy_pool_size_bits",
        &[],
        number(&random.join("poolsize"))?,
    );
    Ok(())
}

/// Absent (no series, no error) when the conntrack module is not loaded.
pub fn conntrack(sys: &Path, out: &mut Output) -> Result<(), ProcError> {
    let dir = sys.join("net/netfilter");
    let count = dir.join("nf_conntrack_count");
    if !count.exists() {
        return Ok(());
    }
    out.push("node_nf_conntrack_entries", &[], number(&count)?);
    out.push(
        "node_nf_conntrack_entries_limit",
        &[],
        number(&dir.join("nf_conntrack_max"))?,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_limits_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        std::fs::create_dir_all(sys.join("fs")).unwrap();
        std::fs::create_dir_all(sys.join("kernel/random")).unwrap();
        std::fs::write(sys.join("fs/file-nr"), "5979\t0\t2466246\n").unwrap();
        std::fs::write(sys.join("kernel/random/entropy_avail"), "256\n").unwrap();
        std::fs::write(sys.join("kernel/random/poolsize"), "256\n").unwrap();
        let mut out = Output::new(0);
        filefd(sys, &mut out).unwrap();
        entropy(sys, &mut out).unwrap();
        conntrack(sys, &mut out).unwrap();
        assert_eq!(out.find("node_filefd_allocated", &[]), Some(5979.0));
        assert_eq!(out.find("node_filefd_maximum", &[]), Some(2466246.0));
        assert_eq!(out.find("node_entropy_available_bits", &[]), Some(256.0));
        assert_eq!(out.find("node_nf_conntrack_entries", &[]), None);
        std::fs::write(sys.join("fs/file-nr"), "12 x 3\n").unwrap();
        assert!(filefd(sys, &mut out).is_err(), "garbage is an error");
    }
}
