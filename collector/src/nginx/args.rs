//! The collector's nginx flags (the server's built-in collector has the
//! same ones with a `local-` prefix).

use super::{Mode, Options};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct NginxArgs {
    /// Run this host's nginx for dozor's services: off, host (the nginx
    /// binary here, reloaded with `nginx -s reload`) or container:NAME
    /// (nginx in that container, with --nginx-conf-dir shared as a volume;
    /// tested and reloaded through Docker exec).
    #[arg(long = "nginx", env = "DOZOR_NGINX", default_value = "off", value_parser = clap::builder::ValueParser::new(str::parse::<Mode>))]
    pub mode: Mode,
    /// The nginx binary (host mode).
    #[arg(long = "nginx-bin", env = "DOZOR_NGINX_BIN", default_value = "nginx")]
    pub bin: PathBuf,
    /// The directory nginx includes `*.conf` from in its http block; dozor
    /// writes dozor.conf and the dozor/ directory there, nothing else.
    #[arg(
        long = "nginx-conf-dir",
        env = "DOZOR_NGINX_CONF_DIR",
        default_value = "/etc/nginx/conf.d"
    )]
    pub conf_dir: PathBuf,
    /// nginx's main config, passed as `-c` when testing and reloading
    /// (host mode) [default: nginx's compiled-in path].
    #[arg(long = "nginx-main-conf", env = "DOZOR_NGINX_MAIN_CONF")]
    pub main_conf: Option<PathBuf>,
    /// The port services listen on for HTTP.
    #[arg(
        long = "nginx-http-port",
        env = "DOZOR_NGINX_HTTP_PORT",
        default_value_t = 80
    )]
    pub http_port: u16,
    /// The port services listen on for HTTPS (certificates come later).
    #[arg(
        long = "nginx-https-port",
        env = "DOZOR_NGINX_HTTPS_PORT",
        default_value_t = 443
    )]
    pub https_port: u16,
    /// nginx's `stub_status` answers on 127.0.0.1:PORT (host mode) or on
    /// PORT of nginx's container address, private addresses only
    /// (container mode), read for the nginx_connections_* gauges; 0 turns
    /// it off.
    #[arg(
        long = "nginx-status-port",
        env = "DOZOR_NGINX_STATUS_PORT",
        default_value_t = 8089
    )]
    pub status_port: u16,
    /// A proxy in front of this nginx (address or network, repeatable)
    /// whose X-Forwarded-For is believed for the client address.
    #[arg(long = "nginx-real-ip-from", env = "DOZOR_NGINX_REAL_IP_FROM", value_delimiter = ',', value_parser = clap::builder::ValueParser::new(str::parse::<dozor_common::cidr::Cidr>))]
    pub real_ip_from: Vec<dozor_common::cidr::Cidr>,
    /// dozor's access log is rotated past this many bytes (renamed to
    /// access.log.1, then `nginx -s reopen`).
    #[arg(
        long = "nginx-log-max-bytes",
        env = "DOZOR_NGINX_LOG_MAX_BYTES",
        default_value_t = 64 << 20
    )]
    pub log_max_bytes: u64,
}

impl NginxArgs {
    pub fn options(&self) -> Options {
        Options {
            mode: self.mode.clone(),
            bin: self.bin.clone(),
            conf_dir: self.conf_dir.clone(),
            main_conf: self.main_conf.clone(),
            http_port: self.http_port,
            https_port: self.https_port,
            status_port: self.status_port,
            real_ip_from: self.real_ip_from.clone(),
            log_max_bytes: self.log_max_bytes,
            never_block: Vec::new(),
        }
    }
}
