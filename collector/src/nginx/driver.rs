//! How the agent asks nginx to check and reload its config: the binary on
//! the host, or `nginx` inside a container through the Docker Engine's
//! exec (the only thing the agent runs in that container).

use async_trait::async_trait;
use std::path::PathBuf;

#[async_trait]
pub trait Driver: Send + Sync {
    /// `nginx -t`: Err with nginx's own words when the config is refused.
    async fn test(&self) -> Result<(), String>;
    /// `nginx -s reload`: a graceful reload (old workers finish their
    /// requests).
    async fn reload(&self) -> Result<(), String>;
    /// `nginx -s reopen`: log files are opened again by their paths (after
    /// a rotation renamed them).
    async fn reopen(&self) -> Result<(), String>;
}

/// nginx on the host.
pub struct Host {
    pub bin: PathBuf,
    /// `-c`: nginx's main config, when not its compiled-in default.
    pub main_conf: Option<PathBuf>,
}

impl Host {
    async fn run(&self, args: &[&str]) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        if let Some(c) = &self.main_conf {
            cmd.arg("-c").arg(c);
        }
        let out = cmd
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(nginx_words(&out.stderr))
        }
    }
}

#[async_trait]
impl Driver for Host {
    async fn test(&self) -> Result<(), String> {
        self.run(&["-t", "-q"]).await
    }

    async fn reload(&self) -> Result<(), String> {
        self.run(&["-s", "reload"]).await
    }

    async fn reopen(&self) -> Result<(), String> {
        self.run(&["-s", "reopen"]).await
    }
}

/// nginx in a container, sharing dozor's config directory as a volume.
pub struct Container {
    pub name: String,
}

impl Container {
    async fn exec(&self, args: &[&str]) -> Result<(), String> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        use futures_util::StreamExt;
        let docker = crate::docker::connect().await?;
        let mut cmd = vec!["nginx"];
        cmd.extend_from_slice(args);
        let exec = docker
            .create_exec(
                &self.name,
                CreateExecOptions {
                    cmd: Some(cmd),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("cannot exec in container {}: {e}", self.name))?;
        let mut stderr = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| format!("cannot exec in container {}: {e}", self.name))?
        {
            while let Some(Ok(chunk)) = output.next().await {
                if let bollard::container::LogOutput::StdErr { message } = chunk {
                    // nginx says little; a runaway stream is cut.
                    if stderr.len() < 64 << 10 {
                        stderr.extend_from_slice(&message);
                    }
                }
            }
        }
        let code = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| e.to_string())?
            .exit_code
            .unwrap_or(-1);
        if code == 0 {
            Ok(())
        } else {
            Err(nginx_words(&stderr))
        }
    }
}

#[async_trait]
impl Driver for Container {
    async fn test(&self) -> Result<(), String> {
        self.exec(&["-t", "-q"]).await
    }

    async fn reload(&self) -> Result<(), String> {
        self.exec(&["-s", "reload"]).await
    }

    async fn reopen(&self) -> Result<(), String> {
        self.exec(&["-s", "reopen"]).await
    }
}

/// nginx's message without its noise: the `[emerg]`/`[error]` lines, at
/// most 2 KiB, for the service page and the alert.
pub fn nginx_words(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("[emerg]") || l.contains("[error]") || l.contains("[alert]"))
        .collect();
    let text = if lines.is_empty() {
        text.trim().to_string()
    } else {
        lines.join("\n")
    };
    let mut cut: String = text.chars().take(2048).collect();
    if cut.is_empty() {
        cut = "nginx failed without a message".into();
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_nginx_s_error_lines() {
        let err = b"nginx: [emerg] unknown directive \"bogus\" in /etc/nginx/conf.d/dozor.conf:3\nnginx: configuration file /etc/nginx/nginx.conf test failed\n";
        assert_eq!(
            nginx_words(err),
            "nginx: [emerg] unknown directive \"bogus\" in /etc/nginx/conf.d/dozor.conf:3"
        );
        assert_eq!(nginx_words(b""), "nginx failed without a message");
    }
}
