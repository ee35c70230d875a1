//! A `container.logs` task: the lines after a cursor (or the last N),
//! with Docker's timestamps, ANSI stripped and the level guessed, within
//! the line and byte limits the server asked for (capped here too).

use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use dozor_common::containers::{
    detect_level, rfc3339_nanos, strip_ansi, LogLine, LogsOutput, LogsRequest,
};
use dozor_common::tasks::TaskError;
use futures_util::StreamExt;
use std::time::Duration;

/// Hard caps whatever the server asks.
pub const MAX_LINES: u32 = 10_000;
pub const MAX_BYTES: u32 = 4 << 20;
/// Longer lines are cut, so one runaway line cannot fill an answer. (Docker
/// itself splits lines over 16 KiB into several.)
pub const MAX_LINE_BYTES: usize = 8 << 10;

/// Docker's errors, typed and in words a user can act on.
pub fn describe(e: &bollard::errors::Error, container: &str) -> TaskError {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => TaskError::Gone(format!(
            "container gone: Docker has no container {container:?}"
        )),
        other => TaskError::Failed(format!("Docker: {other}")),
    }
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_LINE_BYTES {
        let mut end = MAX_LINE_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// One frame of Docker's log stream: `TIMESTAMP text`.
fn line(stream: &str, bytes: &[u8]) -> Option<LogLine> {
    let raw = String::from_utf8_lossy(bytes);
    let raw = raw.trim_end_matches(['\n', '\r']);
    let (ts, text) = raw.split_once(' ').unwrap_or((raw, ""));
    rfc3339_nanos(ts)?;
    let text = cut(strip_ansi(text));
    let level = detect_level(&text).map(str::to_string);
    Some(LogLine {
        ts: ts.to_string(),
        stream: stream.to_string(),
        text,
        level,
    })
}

/// Most lines one answer reads from Docker while looking for the lines of
/// one stream: Docker counts `tail` over both streams before it filters.
const MAX_WINDOW: usize = 4 * MAX_LINES as usize;

pub async fn fetch(docker: &Docker, req: &LogsRequest) -> Result<LogsOutput, TaskError> {
    if !req.stdout && !req.stderr {
        return Err(TaskError::Invalid("ask for stdout, stderr or both".into()));
    }
    let max_lines = req.max_lines.clamp(1, MAX_LINES) as usize;
    let max_bytes = req.max_bytes.clamp(1024, MAX_BYTES) as usize;
    let after = match &req.since {
        Some(c) => {
            Some(rfc3339_nanos(c).ok_or_else(|| TaskError::Invalid(format!("bad cursor {c:?}")))?)
        }
        None => None,
    };
    // After a cursor: every new line, up to the cap. Without: the last
    // `tail`, up to the cap. One more than kept tells whether it was cut.
    let asked = match after {
        Some(_) => usize::MAX,
        None => req.tail.max(1) as usize,
    };
    let keep = asked.min(max_lines);
    let need = keep + 1;
    if after.is_some() {
        return follow(docker, req, after, keep, max_bytes).await;
    }
    let mut window = need;
    let mut lines = loop {
        let (lines, read) = read_window(docker, req, after, window, need).await?;
        // Enough lines of the asked streams, or the whole log was read.
        if lines.len() >= need || read < window || window >= MAX_WINDOW {
            break lines;
        }
        window = (window * 4).min(MAX_WINDOW);
    };
    // Docker stamps stdout and stderr separately, so its order can be a
    // little off; in time order the last line is also the newest, which
    // makes it the right cursor.
    lines.sort_by_key(|l| rfc3339_nanos(&l.ts));
    let mut truncated = false;
    if lines.len() > keep {
        lines.drain(..lines.len() - keep);
        // Cut by the cap, not by the tail the caller asked for.
        truncated = asked > max_lines;
    }
    let mut bytes: usize = lines.iter().map(|l| l.text.len() + l.ts.len() + 8).sum();
    let mut drop = 0;
    // The newest line always stays (cut to MAX_LINE_BYTES already).
    while bytes > max_bytes && drop + 1 < lines.len() {
        bytes -= lines[drop].text.len() + lines[drop].ts.len() + 8;
        drop += 1;
    }
    if drop > 0 {
        lines.drain(..drop);
        truncated = true;
    }
    let cursor = lines.last().map(|l| l.ts.clone()).or(req.since.clone());
    Ok(LogsOutput {
        lines,
        cursor,
        truncated,
        more: false,
    })
}

/// After a cursor: the oldest lines after it, up to the caps, read from
/// the cursor's second on and stopped as soon as one more than kept has
/// come. What does not fit is left for the next ask (`more`), so a log
/// followed faster than it can be fetched lags, never loses lines.
async fn follow(
    docker: &Docker,
    req: &LogsRequest,
    after: Option<i128>,
    keep: usize,
    max_bytes: usize,
) -> Result<LogsOutput, TaskError> {
    let opts = LogsOptions {
        stdout: true,
        stderr: true,
        timestamps: true,
        since: after.map_or(0, |n| (n / 1_000_000_000) as i32),
        tail: "all".into(),
        ..Default::default()
    };
    let mut stream = docker.logs(&req.container, Some(opts));
    let mut lines: Vec<LogLine> = Vec::new();
    let mut bytes = 0;
    let mut more = false;
    let work = async {
        while let Some(item) = stream.next().await {
            let Some(l) = asked_line(item, req)? else {
                continue;
            };
            if after.is_some_and(|a| rfc3339_nanos(&l.ts).is_none_or(|n| n <= a)) {
                continue;
            }
            let size = l.text.len() + l.ts.len() + 8;
            // The first line always comes, whatever its size.
            if lines.len() >= keep || (!lines.is_empty() && bytes + size > max_bytes) {
                more = true;
                break;
            }
            bytes += size;
            lines.push(l);
        }
        Ok::<_, TaskError>(())
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| TaskError::Failed("Docker took over 10 s to return the logs".into()))??;
    let cursor = lines.last().map(|l| l.ts.clone()).or(req.since.clone());
    Ok(LogsOutput {
        lines,
        cursor,
        truncated: false,
        more,
    })
}

/// One item of Docker's log stream as a line, when it is of a stream the
/// request asked for.
fn asked_line(
    item: Result<bollard::container::LogOutput, bollard::errors::Error>,
    req: &LogsRequest,
) -> Result<Option<LogLine>, TaskError> {
    Ok(match item.map_err(|e| describe(&e, &req.container))? {
        bollard::container::LogOutput::StdErr { message } if req.stderr => line("stderr", &message),
        bollard::container::LogOutput::StdOut { message }
        | bollard::container::LogOutput::Console { message }
            if req.stdout =>
        {
            line("stdout", &message)
        }
        _ => None,
    })
}

/// The last `window` lines of both streams (after the cursor, when there
/// is one), keeping the newest `need` of the streams asked for. Returns
/// them and how many lines Docker sent in all.
async fn read_window(
    docker: &Docker,
    req: &LogsRequest,
    after: Option<i128>,
    window: usize,
    need: usize,
) -> Result<(Vec<LogLine>, usize), TaskError> {
    let opts = LogsOptions {
        // Both streams, filtered here: Docker applies `tail` before its
        // stream filter, so `tail=8&stderr=0` could return 4 lines.
        stdout: true,
        stderr: true,
        timestamps: true,
        // Docker's `since` is whole seconds; lines up to the cursor are
        // dropped below.
        since: after.map_or(0, |n| (n / 1_000_000_000) as i32),
        tail: window.to_string(),
        ..Default::default()
    };
    let mut stream = docker.logs(&req.container, Some(opts));
    let mut lines: Vec<LogLine> = Vec::new();
    let mut read = 0;
    let work = async {
        while let Some(item) = stream.next().await {
            read += 1;
            let Some(l) = asked_line(item, req)? else {
                continue;
            };
            if after.is_some_and(|a| rfc3339_nanos(&l.ts).is_none_or(|n| n <= a)) {
                continue;
            }
            lines.push(l);
            // Bounded memory however long the window: keep the newest.
            if lines.len() >= 2 * need {
                lines.sort_by_key(|l| rfc3339_nanos(&l.ts));
                lines.drain(..lines.len() - need);
            }
        }
        Ok::<_, TaskError>(())
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| TaskError::Failed("Docker took over 10 s to return the logs".into()))??;
    Ok((lines, read))
}
