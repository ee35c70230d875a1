//! Which devices and mounts the host pass reports: node_exporter's
//! exclusion flags, as regular expressions with current upstream
//! node_exporter's defaults, so a dashboard built for node_exporter sees
//! the same series. Each can be changed with a collector flag.

use regex::Regex;

/// Disks and partitions: totals would count partitions twice.
pub const DISKSTATS_DEVICE_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// Kernel and container-internal mount points.
pub const MOUNT_POINTS_EXCLUDE: &str =
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// Pseudo and read-only image filesystems.
pub const FS_TYPES_EXCLUDE: &str = r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";

/// A user's pattern is compiled with a size limit: a flag is not trusted
/// to be small.
const PATTERN_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct Filters {
    /// None: every network device (upstream's default; Debian's 1.5 leaves
    /// out `lo`).
    pub netdev_exclude: Option<Regex>,
    pub diskstats_exclude: Regex,
    pub mount_points_exclude: Regex,
    pub fs_types_exclude: Regex,
}

fn compile(flag: &str, pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(PATTERN_LIMIT)
        .build()
        .map_err(|e| format!("{flag}: {e}"))
}

impl Default for Filters {
    fn default() -> Self {
        Self::new(
            "",
            DISKSTATS_DEVICE_EXCLUDE,
            MOUNT_POINTS_EXCLUDE,
            FS_TYPES_EXCLUDE,
        )
        .expect("the built-in patterns compile")
    }
}

impl Filters {
    /// An empty network pattern excludes nothing; each error names its
    /// flag.
    pub fn new(netdev: &str, disks: &str, mounts: &str, fs_types: &str) -> Result<Self, String> {
        Ok(Self {
            netdev_exclude: if netdev.is_empty() {
                None
            } else {
                Some(compile("--netdev-device-exclude", netdev)?)
            },
            diskstats_exclude: compile("--diskstats-device-exclude", disks)?,
            mount_points_exclude: compile("--filesystem-mount-points-exclude", mounts)?,
            fs_types_exclude: compile("--filesystem-fs-types-exclude", fs_types)?,
        })
    }

    pub fn keeps_netdev(&self, device: &str) -> bool {
        !self
            .netdev_exclude
            .as_ref()
            .is_some_and(|r| r.is_match(device))
    }

    pub fn keeps_disk(&self, device: &str) -> bool {
        !self.diskstats_exclude.is_match(device)
    }

    pub fn keeps_mount(&self, fstype: &str, mountpoint: &str) -> bool {
        !self.fs_types_exclude.is_match(fstype) && !self.mount_points_exclude.is_match(mountpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_upstream_node_exporters() {
        let f = Filters::default();
        for yes in [
            "loop0",
            "ram12",
            "zram0",
            "sda1",
            "vda2",
            "xvdb3",
            "nvme0n1p2",
            "fd0",
        ] {
            assert!(!f.keeps_disk(yes), "{yes}");
        }
        for no in [
            "sda", "vda", "nvme0n1", "dm-0", "md0", "sr0", "mmcblk0", "loop",
        ] {
            assert!(f.keeps_disk(no), "{no}");
        }
        assert!(f.keeps_mount("ext4", "/"));
        assert!(f.keeps_mount("xfs", "/var/lib/docker"));
        assert!(!f.keeps_mount("ext4", "/var/lib/docker/overlay2/x/merged"));
        assert!(!f.keeps_mount("tmpfs", "/dev/shm"));
        assert!(!f.keeps_mount("proc", "/proc"));
        assert!(!f.keeps_mount("overlay", "/"));
        assert!(!f.keeps_mount("cgroup2", "/cgroup"));
        assert!(f.keeps_mount("tmpfs", "/run"));
        assert!(!f.keeps_mount("tmpfs", "/run/credentials/foo.service"));
        assert!(f.keeps_netdev("lo"));
    }

    #[test]
    fn patterns_can_be_changed_and_bad_ones_name_their_flag() {
        let debian = Filters::new(
            "^lo$",
            DISKSTATS_DEVICE_EXCLUDE,
            "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+)($|/)",
            FS_TYPES_EXCLUDE,
        )
        .unwrap();
        assert!(!debian.keeps_netdev("lo"));
        assert!(debian.keeps_netdev("eth0"));
        assert!(!debian.keeps_mount("tmpfs", "/run"));
        let e = Filters::new(
            "(",
            DISKSTATS_DEVICE_EXCLUDE,
            MOUNT_POINTS_EXCLUDE,
            FS_TYPES_EXCLUDE,
        )
        .unwrap_err();
        assert!(e.starts_with("--netdev-device-exclude"), "{e}");
        let huge = format!("^({})$", "a{1000}".repeat(1000));
        let e = Filters::new("", &huge, MOUNT_POINTS_EXCLUDE, FS_TYPES_EXCLUDE).unwrap_err();
        assert!(e.starts_with("--diskstats-device-exclude"), "{e}");
    }
}
