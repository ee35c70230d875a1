//! How the agent runs the host's nginx: where (off, on the host, or in a
//! container), which binary and config, the ports dozor's server blocks
//! listen on, and the traffic sensor's and protection's settings.

use std::path::PathBuf;
use std::str::FromStr;

/// Where nginx runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Off,
    Host,
    /// nginx in this container, with CONF_DIR shared as a volume.
    Container(String),
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Self::Off),
            "host" => Ok(Self::Host),
            _ => match s.strip_prefix("container:") {
                Some(name) if !name.is_empty() => Ok(Self::Container(name.to_string())),
                _ => Err("off, host or container:NAME".into()),
            },
        }
    }
}

/// The nginx flags, as the collector and the server's built-in collector
/// take them.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    pub bin: PathBuf,
    /// The directory nginx includes `*.conf` from.
    pub conf_dir: PathBuf,
    /// nginx's main config (`-c`), when not the compiled-in one.
    pub main_conf: Option<PathBuf>,
    pub http_port: u16,
    pub https_port: u16,
    /// `stub_status` on 127.0.0.1:PORT (host mode; 0 turns it off).
    pub status_port: u16,
    pub real_ip_from: Vec<dozor_common::cidr::Cidr>,
    /// The access log is rotated (renamed, `nginx -s reopen`) past this.
    pub log_max_bytes: u64,
    /// Addresses never blocked here besides the allowlist and the
    /// agents' (the server's, as this host resolves it).
    pub never_block: Vec<dozor_common::cidr::Cidr>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mode: Mode::Off,
            bin: "nginx".into(),
            conf_dir: "/etc/nginx/conf.d".into(),
            main_conf: None,
            http_port: 80,
            https_port: 443,
            status_port: 8089,
            real_ip_from: Vec::new(),
            log_max_bytes: 64 << 20,
            never_block: Vec::new(),
        }
    }
}
