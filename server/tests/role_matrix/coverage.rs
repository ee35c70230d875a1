//! Which registered routes the role matrix's table does not reach.

/// Routes roles do not decide, with why.
const EXEMPT: [&str; 8] = [
    // The agent key decides these (tests/protocol.rs, task_poll.rs).
    "/api/v1/agents/enroll",
    "/api/v1/agents/heartbeat",
    "/api/v1/agents/tasks",
    "/api/v1/agents/task-result",
    "/api/v1/agents/desired-state",
    // The write scope or the bootstrap token (tests/api_tokens.rs).
    "/prometheus/api/v1/write",
    // Public: the sign-in page needs them.
    "/assets/{name}",
    "/favicon.ico",
];

/// Whether `path` (a table row, query string ignored) is an instance of
/// `template` (`{x}` matches any one segment).
fn covers(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| a.starts_with('{') || a == b)
}

/// The registered routes neither exempt nor covered by a row.
pub fn uncovered<'a>(registered: &[&'a str], rows: &[&str]) -> Vec<&'a str> {
    registered
        .iter()
        .copied()
        .filter(|t| !EXEMPT.contains(t))
        .filter(|t| !rows.iter().any(|p| covers(t, p)))
        .collect()
}
