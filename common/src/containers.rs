//! Containers on the wire: the inventory a collector sends when it
//! changes, the Docker events it saw, and the task kinds the server may
//! ask for (logs on demand, start/stop/restart), with their payloads.
//! Log lines are cleaned here (ANSI stripped, level guessed) so the
//! server, the page and a download all see the same text.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Task kinds a collector knows. Anything else is refused by the agent.
pub const TASK_LOGS: &str = "container.logs";
pub const TASK_START: &str = "container.start";
pub const TASK_STOP: &str = "container.stop";
pub const TASK_RESTART: &str = "container.restart";

/// The agent's task long-poll: `GET` with `?wait=SECONDS` answers with
/// [`TaskBatch`] as soon as a task is queued, or empty when the wait ends.
pub const TASKS_PATH: &str = "/api/v1/agents/tasks";
/// `POST` one [`crate::protocol::TaskResult`] as soon as a task finishes.
pub const TASK_RESULT_PATH: &str = "/api/v1/agents/task-result";

/// Labels that say a container may be started, stopped and restarted
/// from dozor, unless the collector runs with `--container-actions all`.
pub const MANAGED_LABEL: &str = "dozor.actions";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskBatch {
    pub tasks: Vec<crate::protocol::Task>,
    /// The host's desired-state generation, so a change reaches the agent
    /// with the long-poll (within a second) rather than the next heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_generation: Option<u64>,
}

/// One container as `docker inspect` describes it, trimmed to what the
/// pages show. Sent whole when anything but the timestamps changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub command: String,
    /// created, running, paused, restarting, removing, exited or dead.
    pub state: String,
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default)]
    pub restart_count: i64,
    /// Unix milliseconds.
    #[serde(default)]
    pub created_ms: i64,
    #[serde(default)]
    pub started_ms: Option<i64>,
    #[serde(default)]
    pub finished_ms: Option<i64>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub compose_project: Option<String>,
    #[serde(default)]
    pub compose_service: Option<String>,
    /// "8080/tcp -> 0.0.0.0:80" style.
    #[serde(default)]
    pub ports: Vec<String>,
    #[serde(default)]
    pub networks: Vec<String>,
    /// network → the container's IP address on it (what nginx proxies to).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addresses: BTreeMap<String, String>,
    /// "source -> destination (ro)" style.
    #[serde(default)]
    pub mounts: Vec<String>,
    /// Why this host's agent would refuse start/stop/restart here (its
    /// `--container-actions` policy), so the page shows no button that
    /// cannot work; None when it would act (or is too old to say).
    #[serde(default)]
    pub actions_refused: Option<String>,
    /// Bytes; None when unlimited.
    #[serde(default)]
    pub memory_limit: Option<i64>,
    /// CPUs (quota / period, or NanoCpus); None when unlimited.
    #[serde(default)]
    pub cpu_limit: Option<f64>,
}

impl ContainerInfo {
    /// A state worth a highlight: not running for a reason, or unhealthy.
    pub fn is_problem(&self) -> bool {
        matches!(self.state.as_str(), "restarting" | "dead")
            || (self.state == "exited" && self.exit_code.unwrap_or(0) != 0)
            || self.health.as_deref() == Some("unhealthy")
            || self.oom_killed
    }
}

/// A Docker event about a container: start, die, oom, health_status,
/// restart, stop, kill, create, destroy, pause, unpause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerEvent {
    /// Unix milliseconds.
    pub ts_ms: i64,
    pub container: String,
    pub action: String,
    /// The exit code of a `die`, the status of a `health_status`.
    #[serde(default)]
    pub detail: Option<String>,
}

/// Payload of a `container.logs` task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsRequest {
    pub container: String,
    /// Lines from the end when there is no cursor.
    pub tail: u32,
    /// Only lines after this one (the `cursor` of the previous answer).
    #[serde(default)]
    pub since: Option<String>,
    pub stdout: bool,
    pub stderr: bool,
    /// Most lines and bytes to return; the answer says when it was cut.
    pub max_lines: u32,
    pub max_bytes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Docker's RFC 3339 timestamp, nanoseconds included.
    pub ts: String,
    /// "stdout" or "stderr".
    pub stream: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

/// What a `container.logs` task returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogsOutput {
    pub lines: Vec<LogLine>,
    /// Pass back as `since` for the lines after these.
    pub cursor: Option<String>,
    /// Lines or bytes were over the limit; the oldest were left out.
    #[serde(default)]
    pub truncated: bool,
    /// After a cursor: more lines follow these (the answer stopped at the
    /// limit with the oldest first, so nothing is skipped); ask again with
    /// the new cursor at once.
    #[serde(default)]
    pub more: bool,
}

/// Payload of start/stop/restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub container: String,
}

/// What start/stop/restart report: "web-1 stopped", "web-1 was already
/// running".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionOutput {
    pub message: String,
}

/// The container task kinds.
pub struct ContainerLogs;
pub struct StartContainer;
pub struct StopContainer;
pub struct RestartContainer;

impl crate::tasks::TaskKind for ContainerLogs {
    const NAME: &'static str = TASK_LOGS;
    type Request = LogsRequest;
    type Output = LogsOutput;
}

impl crate::tasks::TaskKind for StartContainer {
    const NAME: &'static str = TASK_START;
    type Request = ActionRequest;
    type Output = ActionOutput;
}

impl crate::tasks::TaskKind for StopContainer {
    const NAME: &'static str = TASK_STOP;
    type Request = ActionRequest;
    type Output = ActionOutput;
}

impl crate::tasks::TaskKind for RestartContainer {
    const NAME: &'static str = TASK_RESTART;
    type Request = ActionRequest;
    type Output = ActionOutput;
}

/// Whether `s` can be a container's name or id as Docker allows them
/// (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`). Anything else is refused before it
/// reaches the Engine: a name goes into the API's URL path, and `/`, `..`
/// or `?` there would reach other endpoints.
pub fn valid_container_ref(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Removes ANSI escape sequences (CSI such as colours and cursor moves,
/// OSC such as titles and links) and other control characters but tab,
/// so terminal output reads as plain text and nothing can be injected.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\u{1b}' => match it.peek() {
                Some('[') => {
                    it.next();
                    // Parameters and intermediates, then one final byte.
                    for c in it.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    it.next();
                    // Ends at BEL or ESC \.
                    while let Some(c) = it.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            if it.peek() == Some(&'\\') {
                                it.next();
                            }
                            break;
                        }
                    }
                }
                Some(_) => {
                    it.next();
                }
                None => {}
            },
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The level of a JSON (`"level":"warn"`, `"lvl"`, `"severity"`) or
/// logfmt (`level=error`) line, normalised to error, warn, info, debug or
/// trace; None when the line does not say.
pub fn detect_level(line: &str) -> Option<&'static str> {
    let t = line.trim_start();
    let raw: Option<String> = if t.starts_with('{') {
        serde_json::from_str::<serde_json::Value>(t)
            .ok()
            .and_then(|v| {
                ["level", "lvl", "severity", "log.level"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(|l| l.as_str()).map(str::to_string))
            })
    } else {
        t.split_whitespace().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            matches!(k, "level" | "lvl" | "severity").then(|| v.trim_matches('"').to_string())
        })
    };
    normalise_level(&raw?)
}

fn normalise_level(l: &str) -> Option<&'static str> {
    Some(match l.to_ascii_lowercase().as_str() {
        "fatal" | "panic" | "crit" | "critical" | "error" | "err" | "alert" | "emerg" => "error",
        "warn" | "warning" => "warn",
        "info" | "notice" | "information" => "info",
        "debug" | "dbg" => "debug",
        "trace" => "trace",
        _ => return None,
    })
}

/// Nanoseconds since the epoch of an RFC 3339 UTC timestamp as Docker
/// writes it (`2026-11-26T12:00:00.123456789Z`, fraction optional).
pub fn rfc3339_nanos(ts: &str) -> Option<i128> {
    let b = ts.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = &ts[19..];
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    if zone != "Z" || frac.len() > 9 {
        return None;
    }
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s;
    Some(secs as i128 * 1_000_000_000 + nanos as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_is_stripped_and_text_kept() {
        assert_eq!(strip_ansi("\u{1b}[31mred\u{1b}[0m <b>"), "red <b>");
        assert_eq!(strip_ansi("a\u{1b}]0;title\u{7}b\tc\r"), "ab\tc");
        assert_eq!(strip_ansi("\u{1b}]8;;http://x\u{1b}\\link"), "link");
        assert_eq!(strip_ansi("tail\u{1b}"), "tail");
        assert_eq!(strip_ansi("ünï"), "ünï");
    }

    #[test]
    fn container_refs() {
        assert!(valid_container_ref("web-1") && valid_container_ref("a1b2c3d4e5f6"));
        assert!(valid_container_ref("proj_web.1"));
        for bad in [
            "",
            "-x",
            "../images/json",
            "a/b",
            "x?all=1",
            "x y",
            ".x",
            "ünï",
        ] {
            assert!(!valid_container_ref(bad), "{bad:?}");
        }
        assert!(!valid_container_ref(&"a".repeat(256)));
    }

    #[test]
    fn levels_from_json_and_logfmt() {
        assert_eq!(detect_level(r#"{"level":"WARN","msg":"x"}"#), Some("warn"));
        assert_eq!(detect_level(r#"{"severity":"critical"}"#), Some("error"));
        assert_eq!(detect_level("ts=1 level=debug msg=hi"), Some("debug"));
        assert_eq!(detect_level(r#"lvl="info" x=1"#), Some("info"));
        assert_eq!(detect_level("plain text level"), None);
        assert_eq!(detect_level("{broken"), None);
    }

    #[test]
    fn timestamps_parse_to_nanos() {
        assert_eq!(rfc3339_nanos("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(
            rfc3339_nanos("2026-11-26T12:00:00.5Z"),
            Some(1_795_694_400_500_000_000)
        );
        assert!(
            rfc3339_nanos("2026-11-26T12:00:00.1Z")
                < rfc3339_nanos("2026-11-26T12:00:00.10000001Z")
        );
        assert_eq!(rfc3339_nanos("nonsense"), None);
        assert_eq!(rfc3339_nanos("2026-11-26T12:00\u{0}00Z"), None);
        assert_eq!(rfc3339_nanos("2026-11-26T12:00:00+01:00"), None);
    }
}
