//! The built-in collector's nginx flags: the collector's `--nginx*` with a
//! `local-` prefix, as `--local-collector-root` is.

use clap::Args;
use dozor_collector::nginx::{Mode, Options};
use std::path::PathBuf;

#[derive(Args, Default, Clone)]
pub struct LocalNginxArgs {
    /// Run this host's nginx for dozor's services from the built-in
    /// collector: off, host or container:NAME [default: off].
    #[arg(long = "local-nginx", env = "DOZOR_LOCAL_NGINX", global = true)]
    pub mode: Option<String>,
    /// The nginx binary (host mode) [default: nginx].
    #[arg(long = "local-nginx-bin", env = "DOZOR_LOCAL_NGINX_BIN", global = true)]
    pub bin: Option<PathBuf>,
    /// The directory nginx includes `*.conf` from [default: /etc/nginx/conf.d].
    #[arg(
        long = "local-nginx-conf-dir",
        env = "DOZOR_LOCAL_NGINX_CONF_DIR",
        global = true
    )]
    pub conf_dir: Option<PathBuf>,
    /// nginx's main config, passed as `-c` [default: nginx's own].
    #[arg(
        long = "local-nginx-main-conf",
        env = "DOZOR_LOCAL_NGINX_MAIN_CONF",
        global = true
    )]
    pub main_conf: Option<PathBuf>,
    /// The port services listen on for HTTP [default: 80].
    #[arg(
        long = "local-nginx-http-port",
        env = "DOZOR_LOCAL_NGINX_HTTP_PORT",
        global = true
    )]
    pub http_port: Option<u16>,
    /// The port services listen on for HTTPS [default: 443].
    #[arg(
        long = "local-nginx-https-port",
        env = "DOZOR_LOCAL_NGINX_HTTPS_PORT",
        global = true
    )]
    pub https_port: Option<u16>,
    /// nginx's `stub_status` on 127.0.0.1:PORT (in a container: on PORT of
    /// its address), 0 for off [default: 8089].
    #[arg(
        long = "local-nginx-status-port",
        env = "DOZOR_LOCAL_NGINX_STATUS_PORT",
        global = true
    )]
    pub status_port: Option<u16>,
    /// A trusted proxy in front of this nginx (address or network,
    /// repeatable) whose X-Forwarded-For gives the client address.
    #[arg(
        long = "local-nginx-real-ip-from",
        env = "DOZOR_LOCAL_NGINX_REAL_IP_FROM",
        value_delimiter = ',',
        global = true
    )]
    pub real_ip_from: Vec<String>,
    /// dozor's access log is rotated past this many bytes [default: 64 MiB].
    #[arg(
        long = "local-nginx-log-max-bytes",
        env = "DOZOR_LOCAL_NGINX_LOG_MAX_BYTES",
        global = true
    )]
    pub log_max_bytes: Option<u64>,
}

impl LocalNginxArgs {
    pub fn options(&self) -> Result<Options, String> {
        let d = Options::default();
        Ok(Options {
            mode: match &self.mode {
                Some(m) => m
                    .parse::<Mode>()
                    .map_err(|e| format!("--local-nginx: {e}"))?,
                None => d.mode,
            },
            bin: self.bin.clone().unwrap_or(d.bin),
            conf_dir: self.conf_dir.clone().unwrap_or(d.conf_dir),
            main_conf: self.main_conf.clone(),
            http_port: self.http_port.unwrap_or(d.http_port),
            https_port: self.https_port.unwrap_or(d.https_port),
            status_port: self.status_port.unwrap_or(d.status_port),
            real_ip_from: self
                .real_ip_from
                .iter()
                .map(|c| {
                    c.parse()
                        .map_err(|e| format!("--local-nginx-real-ip-from: {e}"))
                })
                .collect::<Result<_, String>>()?,
            log_max_bytes: self.log_max_bytes.unwrap_or(d.log_max_bytes),
            // The server is on this host: loopback, allowlisted by default.
            never_block: Vec::new(),
        })
    }
}
