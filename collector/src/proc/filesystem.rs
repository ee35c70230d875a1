//! Filesystem size/free/avail by mountpoint: the host's mount table from
//! `ROOT/proc/1/mounts`, then statvfs on `ROOT/<mountpoint>`. Pseudo
//! filesystems and container-internal mounts are skipped (`filters.rs`).

use super::{Filters, ProcError};
use crate::output::Output;
use procfs_core::{FromRead, MountEntry};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// A hung NFS server can block statvfs forever; give up on the mount for
/// this pass instead of stalling every other metric.
const STATVFS_TIMEOUT: Duration = Duration::from_secs(5);

pub fn collect(root: &Path, filters: &Filters, out: &mut Output) -> Vec<ProcError> {
    let mut errors = Vec::new();
    let primary = root.join("proc/1/mounts");
    let table = if primary.exists() {
        primary
    } else {
        root.join("proc/mounts")
    };
    let mounts = match Vec::<MountEntry>::from_file(&table) {
        Ok(m) => m,
        Err(e) => return vec![ProcError::new(&table, e)],
    };
    let mut seen = HashSet::new();
    for m in mounts {
        if !filters.keeps_mount(&m.fs_vfstype, &m.fs_file) || !seen.insert(m.fs_file.clone()) {
            continue;
        }
        let target = root.join(m.fs_file.trim_start_matches('/'));
        let labels = [
            ("device", m.fs_spec.as_str()),
            ("fstype", m.fs_vfstype.as_str()),
            ("mountpoint", m.fs_file.as_str()),
        ];
        match statvfs_with_timeout(target.clone()) {
            Ok(s) => {
                let frsize = s.f_frsize as f64;
                out.push(
                    "node_filesystem_size_bytes",
                    &labels,
                    s.f_blocks as f64 * frsize,
                );
                out.push(
                    "node_filesystem_free_bytes",
                    &labels,
                    s.f_bfree as f64 * frsize,
                );
                out.push(
                    "node_filesystem_avail_bytes",
                    &labels,
                    s.f_bavail as f64 * frsize,
                );
                out.push("node_filesystem_files", &labels, s.f_files as f64);
                out.push("node_filesystem_files_free", &labels, s.f_ffree as f64);
                let ro = s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY);
                out.push(
                    "node_filesystem_readonly",
                    &labels,
                    if ro { 1.0 } else { 0.0 },
                );
                out.push("node_filesystem_device_error", &labels, 0.0);
            }
            // A mount listed by the host but absent under ROOT is normal when
            // only part of the host is bind-mounted; it is not an error.
            Err(StatError::Missing) => {}
            Err(StatError::Failed(msg)) => {
                out.push("node_filesystem_device_error", &labels, 1.0);
                errors.push(ProcError::new(&target, msg));
            }
        }
    }
    errors
}

enum StatError {
    Missing,
    Failed(String),
}

fn statvfs_with_timeout(path: PathBuf) -> Result<rustix::fs::StatVfs, StatError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("statvfs".into())
        .spawn(move || {
            let _ = tx.send(rustix::fs::statvfs(&path));
        })
        .map_err(|e| StatError::Failed(format!("cannot spawn statvfs thread: {e}")))?;
    match rx.recv_timeout(STATVFS_TIMEOUT) {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) if e == rustix::io::Errno::NOENT => Err(StatError::Missing),
        Ok(Err(e)) => Err(StatError::Failed(format!("statvfs: {e}"))),
        Err(_) => Err(StatError::Failed(format!(
            "statvfs did not answer within {STATVFS_TIMEOUT:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::tests_support::fixture_root;

    #[test]
    fn reports_real_mounts_and_skips_pseudo_filesystems() {
        let mut out = Output::new(0);
        let errors = collect(&fixture_root(), &Filters::default(), &mut out);
        assert!(errors.is_empty(), "{errors:?}");
        // The fixture's mount table lists "/" (ext4 on /dev/vda) plus
        // proc, sysfs, cgroup, devpts and a tmpfs that is absent under the
        // fixture root: only "/" can be statted.
        let labels = [
            ("device", "/dev/vda"),
            ("fstype", "ext4"),
            ("mountpoint", "/"),
        ];
        let size = out.find("node_filesystem_size_bytes", &labels).unwrap();
        let avail = out.find("node_filesystem_avail_bytes", &labels).unwrap();
        let free = out.find("node_filesystem_free_bytes", &labels).unwrap();
        assert!(
            size > 0.0 && avail <= free && free <= size,
            "{size} {free} {avail}"
        );
        assert_eq!(out.find("node_filesystem_readonly", &labels), Some(0.0));
        let mountpoints: HashSet<_> = out
            .series()
            .iter()
            .map(|s| s.labels["mountpoint"].clone())
            .collect();
        assert_eq!(mountpoints, HashSet::from(["/".to_string()]));
    }
}
