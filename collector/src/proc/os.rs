//! What the host runs: `node_os_info`/`node_os_version` from
//! `ROOT/etc/os-release` (or `ROOT/usr/lib/os-release`) and
//! `node_uname_info` from uname(2), as node_exporter's os and uname
//! collectors write them. Dashboards key their host pickers on these.

use super::{read_file, ProcError};
use crate::output::Output;
use std::collections::HashMap;
use std::path::Path;

/// The os-release keys node_exporter turns into labels, in its order.
const INFO: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

pub fn os_release(root: &Path, out: &mut Output) -> Result<(), ProcError> {
    let etc = root.join("etc/os-release");
    let path = if etc.exists() {
        etc
    } else {
        root.join("usr/lib/os-release")
    };
    // A root without either (a FROM scratch container's own) has nothing
    // to say: no series, and no error every pass.
    if !path.exists() {
        return Ok(());
    }
    let fields = parse(&read_file(&path)?);
    let get = |k: &str| fields.get(k).map_or("", String::as_str);
    let info: Vec<(&str, &str)> = INFO.iter().map(|(l, k)| (*l, get(k))).collect();
    out.push("node_os_info", &info, 1.0);
    if let Some(v) = major_minor(get("VERSION_ID")) {
        out.push(
            "node_os_version",
            &[
                ("id", get("ID")),
                ("id_like", get("ID_LIKE")),
                ("name", get("NAME")),
            ],
            v,
        );
    }
    Ok(())
}

/// `KEY=value` lines; values may be quoted with `"` or `'` and use
/// backslash escapes inside double quotes (os-release(5)).
fn parse(text: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = if let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            let mut s = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => s.extend(chars.next()),
                    c => s.push(c),
                }
            }
            s
        } else if let Some(inner) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            inner.to_string()
        } else {
            v.to_string()
        };
        m.insert(k.to_string(), v);
    }
    m
}

/// node_exporter's "major.minor part of the OS version": leading digits
/// and at most one dot ("22.04.3" → 22.04, "12" → 12).
fn major_minor(version_id: &str) -> Option<f64> {
    let mut end = 0;
    let mut dots = 0;
    for (i, c) in version_id.char_indices() {
        match c {
            '0'..='9' => end = i + 1,
            '.' if dots == 0 => dots += 1,
            _ => break,
        }
    }
    version_id[..end].parse().ok()
}

/// node_exporter's selinux collector: enabled or not, and when enabled
/// whether it enforces (`sys/fs/selinux/enforce`: 1 enforcing, 0
/// permissive).
pub fn selinux(root: &Path, out: &mut Output) {
    let enforce = std::fs::read_to_string(root.join("sys/fs/selinux/enforce"));
    match enforce.ok().and_then(|e| e.trim().parse::<f64>().ok()) {
        Some(mode) => {
            out.push("node_selinux_enabled", &[], 1.0);
            out.push("node_selinux_current_mode", &[], mode);
        }
        None => out.push("node_selinux_enabled", &[], 0.0),
    }
}

pub fn uname(out: &mut Output) {
    let u = rustix::system::uname();
    let text = |s: &std::ffi::CStr| s.to_string_lossy().into_owned();
    let (domainname, machine, nodename) =
        (text(u.domainname()), text(u.machine()), text(u.nodename()));
    let (release, sysname, version) = (text(u.release()), text(u.sysname()), text(u.version()));
    out.push(
        "node_uname_info",
        &[
            ("domainname", &domainname),
            ("machine", &machine),
            ("nodename", &nodename),
            ("release", &release),
            ("sysname", &sysname),
            ("version", &version),
        ],
        1.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_is_read_with_quotes_and_escapes() {
        let m = parse("NAME=\"Debian GNU/Linux\"\nID=debian\n# c\nX='a b'\nY=\"say \\\"hi\\\"\"\n");
        assert_eq!(m["NAME"], "Debian GNU/Linux");
        assert_eq!(m["ID"], "debian");
        assert_eq!(m["X"], "a b");
        assert_eq!(m["Y"], "say \"hi\"");
        assert_eq!(major_minor("22.04.3"), Some(22.04));
        assert_eq!(major_minor("12"), Some(12.0));
        assert_eq!(major_minor("rolling"), None);
    }
}
