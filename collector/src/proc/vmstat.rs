//! `/proc/vmstat` as node_exporter's vmstat collector with its default
//! field set `^(oom_kill|pgpg|pswp|pg.*fault).*`: page-ins and -outs, swap
//! traffic, page faults and the OOM killer's count, each as
//! `node_vmstat_<field>`.

use super::{read_file, ProcError};
use crate::output::Output;
use std::path::Path;

fn wanted(field: &str) -> bool {
    field.starts_with("oom_kill")
        || field.starts_with("pgpg")
        || field.starts_with("pswp")
        || (field.starts_with("pg") && field[2..].contains("fault"))
}

pub fn collect(path: &Path, out: &mut Output) -> Result<(), ProcError> {
    let text = read_file(path)?;
    for line in text.lines() {
        let Some((field, value)) = line.split_once(' ') else {
            continue;
        };
        if !wanted(field) {
            continue;
        }
        // One bad line is skipped; the rest still count.
        if let Ok(v) = value.trim().parse::<u64>() {
            out.push(&format!("node_vmstat_{field}"), &[], v as f64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fields_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vmstat");
        std::fs::write(
            &p,
            "nr_free_pages 1\npgpgin 10\npgpgout 11\npswpin 0\npgfault 99\npgmajfault 3\npgsteal_kswapd 5\noom_kill 2\nbogus x\n",
        )
        .unwrap();
        let mut out = Output::new(0);
        collect(&p, &mut out).unwrap();
        assert_eq!(out.find("node_vmstat_pgmajfault", &[]), Some(3.0));
        assert_eq!(out.find("node_vmstat_oom_kill", &[]), Some(2.0));
        assert_eq!(out.find("node_vmstat_nr_free_pages", &[]), None);
        assert_eq!(out.find("node_vmstat_pgsteal_kswapd", &[]), None);
        assert_eq!(out.len(), 6);
    }
}
