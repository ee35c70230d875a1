//! wrk, Debian's HTTP load generator, and reading its counts.

/// None (a skip, or a failure when CI=true) without wrk.
pub fn binary() -> Option<&'static str> {
    let found = ["/usr/bin/wrk", "/usr/local/bin/wrk"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if found.is_none() {
        super::missing("wrk (Debian package)");
    }
    found
}

/// wrk's counts: (requests, non-2xx/3xx, connect, read, write, timeout).
pub fn counts(out: &str) -> (u64, u64, u64, u64, u64, u64) {
    // wrk prints these lines only when a count is not zero.
    let line = |start: &str| {
        out.lines()
            .map(str::trim)
            .find(|l| l.starts_with(start))
            .unwrap_or("")
            .to_string()
    };
    let socket = line("Socket errors:");
    let non2xx = line("Non-2xx or 3xx responses:");
    let num = |text: &str, after: &str| -> u64 {
        text.split(after)
            .nth(1)
            .and_then(|r| {
                r.split(|c: char| !c.is_ascii_digit())
                    .find(|s| !s.is_empty())
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let requests = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (
        requests,
        num(&non2xx, "responses:"),
        num(&socket, "connect "),
        num(&socket, "read "),
        num(&socket, "write "),
        num(&socket, "timeout "),
    )
}
