//! Filesystem size/free/avail by mountpoint: the host's mount table from
//! `ROOT/proc/1/mounts`, then statvfs on `ROOT/<mountpoint>`. Pseudo
//! filesystems and container-internal mounts are skipped with
//! node_exporter's defaults.

use super::ProcError;
use crate::output::Output;
use procfs_core::{FromRead, MountEntry};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// A hung NFS server can block statvfs forever; give up on the mount for
/// this pass instead of stalling every other metric.
const STATVFS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct FsFilter {
    pub fs_types: HashSet<&'static str>,
}

impl Default for FsFilter {
    fn default() -> Self {
        Self {
            fs_types: [
                "autofs",
                "binfmt_misc",
                "bpf",
                "cgroup",
                "cgroup2",
                "configfs",
                "debugfs",
                "devpts",
                "devtmpfs",
                "fusectl",
                "hugetlbfs",
                "iso9660",
                "mqueue",
                "nsfs",
                "overlay",
                "proc",
                "procfs",
                "pstore",
                "rpc_pipefs",
                "securityfs",
                "selinuxfs",
                "squashfs",
                "erofs",
                "sysfs",
                "tracefs",
            ]
            .into_iter()
            .collect(),
        }
    }
}

impl FsFilter {
    pub fn keeps(&self, fstype: &str, mountpoint: &str) -> bool {
        !self.fs_types.contains(fstype) && !mountpoint_excluded(mountpoint)
    }
}

/// node_exporter's `^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`.
fn mountpoint_excluded(mp: &str) -> bool {
    let under = |p: &str| mp == p || mp.starts_with(&format!("{p}/"));
    under("/dev")
        || under("/proc")
        || under("/sys")
        || mp.starts_with("/run/credentials/")
        || mp.starts_with("/var/lib/docker/")
        || mp.starts_with("/var/lib/containers/storage/")
}

pub fn collect(root: &Path, filter: &FsFilter, out: &mut Output) -> Vec<ProcError> {
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
        if !filter.keeps(&m.fs_vfstype, &m.fs_file) || !seen.insert(m.fs_file.clone()) {
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
        let errors = collect(&fixture_root(), &FsFilter::default(), &mut out);
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

    #[test]
    fn filter_matches_node_exporter_defaults() {
        let f = FsFilter::default();
        assert!(f.keeps("ext4", "/"));
        assert!(f.keeps("xfs", "/var/lib/docker"));
        assert!(!f.keeps("ext4", "/var/lib/docker/overlay2/x/merged"));
        assert!(!f.keeps("tmpfs", "/dev/shm"));
        assert!(!f.keeps("proc", "/proc"));
        assert!(!f.keeps("overlay", "/"));
        assert!(f.keeps("tmpfs", "/run"));
        assert!(!f.keeps("tmpfs", "/run/credentials/foo.service"));
    }
}
