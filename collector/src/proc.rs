//! The host input: node_exporter-compatible metrics read from `ROOT/proc` and
//! `ROOT/sys`, so a containerised collector with `-v /:/host:ro` reports the
//! host, not its own container. Parsers take readers so fixtures can test
//! them with exact values.

pub mod catalogue;
mod diskstats;
mod filesystem;
pub mod filters;
mod kernel_tables;
mod meminfo;
mod net_tables;
mod netclass;
mod netdev;
mod netstat;
mod os;
mod pressure;
mod sockstat;
mod softnet;
mod stat;
mod textfile;
mod time;
mod vmstat;

pub use filters::Filters;

use crate::output::Output;
use std::path::{Path, PathBuf};

/// What went wrong in one file. One bad file does not stop the others.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ProcError {
    pub file: String,
    pub message: String,
}

impl ProcError {
    pub(crate) fn new(file: &Path, message: impl std::fmt::Display) -> Self {
        Self {
            file: file.display().to_string(),
            message: message.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HostInput {
    root: PathBuf,
    ticks_per_second: u64,
    filters: Filters,
    /// node_exporter's textfile directory, when one is given.
    textfile_dir: Option<PathBuf>,
}

impl HostInput {
    /// `root` is the directory that holds the host's `proc` and `sys`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            // USER_HZ: the unit of /proc/stat. It is a kernel ABI constant
            // (100 on every mainstream architecture), read from sysconf so an
            // unusual build still comes out right.
            ticks_per_second: rustix::param::clock_ticks_per_second(),
            filters: Filters::default(),
            textfile_dir: None,
        }
    }

    /// Which devices and mounts to report (node_exporter's defaults
    /// unless the flags say otherwise).
    pub fn with_filters(mut self, filters: Filters) -> Self {
        self.filters = filters;
        self
    }

    /// Reads `*.prom` files from `dir` with every pass.
    pub fn with_textfile_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.textfile_dir = Some(dir.into());
        self
    }

    pub fn with_ticks_per_second(mut self, tps: u64) -> Self {
        self.ticks_per_second = tps.max(1);
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn proc_path(&self, rel: &str) -> PathBuf {
        self.root.join("proc").join(rel)
    }

    /// A file of the host's network namespace. `ROOT/proc/net` is a link
    /// to `self/net`, the namespace of the process reading it: in a
    /// container that is the container's own `lo` and `eth0`, whatever is
    /// mounted at ROOT. PID 1 of the host's procfs is the host's init, so
    /// its `net/` is the host's; without it (a fixture root, or a procfs
    /// that hides other processes) the process's own is all there is.
    pub fn net_path(&self, rel: &str) -> PathBuf {
        let init = self.root.join("proc/1/net").join(rel);
        if std::fs::metadata(&init).is_ok() {
            init
        } else {
            self.proc_path("net").join(rel)
        }
    }

    /// Reads every source once. Blocking: call from `spawn_blocking`.
    /// Samples go to `out`; each failed source adds an error and the rest
    /// carry on, because a missing PSI file must not hide CPU metrics.
    pub fn collect(&self, out: &mut Output) -> Vec<ProcError> {
        let mut errors = Vec::new();
        let mut run = |r: Result<(), ProcError>| {
            if let Err(e) = r {
                errors.push(e);
            }
        };
        run(stat::collect(
            &self.proc_path("stat"),
            self.ticks_per_second,
            out,
        ));
        run(stat::collect_loadavg(&self.proc_path("loadavg"), out));
        run(meminfo::collect(&self.proc_path("meminfo"), out));
        run(diskstats::collect(
            &self.proc_path("diskstats"),
            &self.root.join("run/udev/data"),
            &self.filters,
            out,
        ));
        run(netdev::collect(
            &self.net_path("dev"),
            &self.root.join("sys/class/net"),
            &self.filters,
            out,
        ));
        // PSI exists only on kernels >= 4.20 built with it; absence is normal.
        let psi = self.proc_path("pressure");
        if psi.is_dir() {
            run(pressure::collect(&psi, out));
        }
        let sys = self.proc_path("sys");
        run(kernel_tables::filefd(&sys, out));
        run(kernel_tables::entropy(&sys, out));
        run(kernel_tables::conntrack(&sys, out));
        run(vmstat::collect(&self.proc_path("vmstat"), out));
        run(sockstat::collect(
            &self.net_path("sockstat"),
            &self.net_path("sockstat6"),
            out,
        ));
        run(softnet::collect(&self.net_path("softnet_stat"), out));
        run(net_tables::arp(&self.net_path("arp"), out));
        run(net_tables::udp_queues(
            &self.net_path("udp"),
            &self.net_path("udp6"),
            out,
        ));
        run(net_tables::conntrack_stat(
            &self.net_path("stat/nf_conntrack"),
            out,
        ));
        run(netstat::collect(
            &self.net_path("netstat"),
            &self.net_path("snmp"),
            &self.net_path("snmp6"),
            out,
        ));
        run(os::os_release(&self.root, out));
        os::uname(out);
        os::selinux(&self.root, out);
        netclass::collect(&self.root.join("sys/class/net"), &self.filters, out);
        time::clocksources(&self.root.join("sys/devices/system/clocksource"), out);
        time::zone(out.ts_ms(), out);
        if let Err(e) = time::timex(out) {
            errors.push(ProcError::new(Path::new("adjtimex"), e));
        }
        errors.extend(filesystem::collect(&self.root, &self.filters, out));
        if let Some(dir) = &self.textfile_dir {
            errors.extend(textfile::collect(dir, out));
        }
        errors
    }
}

pub(crate) fn read_file(path: &Path) -> Result<String, ProcError> {
    std::fs::read_to_string(path).map_err(|e| ProcError::new(path, e))
}

#[cfg(test)]
pub(crate) mod tests_support {
    use std::path::PathBuf;

    pub fn fixture_root() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/host"))
    }

    pub fn fixture(rel: &str) -> PathBuf {
        fixture_root().join("proc").join(rel)
    }
}
