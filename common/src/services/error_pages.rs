//! Error pages nginx serves for a service: the statuses dozor covers,
//! its default set (small, self-contained: no external fonts, scripts or
//! images), the size limit, and the one placeholder a template may use.
//! Templates go into files that nginx serves with SSI on, never into the
//! config itself and never into dozor's own pages.

use std::collections::BTreeMap;

/// The statuses a template can be given for.
pub const STATUSES: [u16; 6] = [403, 404, 500, 502, 503, 504];

/// One template's size at most.
pub const MAX_BYTES: usize = 256 << 10;

/// Written where the request's id goes (nginx's `$request_id`), so a user
/// can quote it when they report the problem.
pub const REQUEST_ID: &str = "{{request_id}}";

pub fn title(status: u16) -> &'static str {
    match status {
        403 => "Forbidden",
        404 => "Not found",
        500 => "Something went wrong",
        502 => "Bad gateway",
        503 => "Temporarily unavailable",
        504 => "The server took too long",
        _ => "Error",
    }
}

fn explanation(status: u16) -> &'static str {
    match status {
        403 => "You do not have access to this page.",
        404 => "There is nothing at this address. Check the link, or go back to the start.",
        500 => "The service failed to answer this request. Try again in a moment.",
        502 => "The service behind this site did not answer properly. Try again in a moment.",
        503 => "The service is not available right now, usually for a short while. Try again in a moment.",
        504 => "The service did not answer in time. Try again in a moment.",
        _ => "The request could not be completed.",
    }
}

/// dozor's page for `status`.
pub fn default_page(status: u16) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{status} · {title}</title>
<style>
html{{color-scheme:light dark}}
body{{margin:0;min-height:100vh;display:grid;place-items:center;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f6f7f9;color:#1d2330}}
main{{max-width:32rem;padding:2rem}}
.code{{font-size:4rem;font-weight:700;letter-spacing:-.03em;color:#8a93a6;margin:0}}
h1{{font-size:1.5rem;margin:.25rem 0 1rem}}
p{{margin:0 0 1rem}}
.id{{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;color:#6b7385}}
@media (prefers-color-scheme:dark){{body{{background:#14171d;color:#e4e7ee}}.code{{color:#5d6577}}.id{{color:#9aa2b4}}}}
</style>
</head>
<body>
<main>
<p class="code">{status}</p>
<h1>{title}</h1>
<p>{text}</p>
<p class="id">Request {REQUEST_ID}</p>
</main>
</body>
</html>
"#,
        title = title(status),
        text = explanation(status),
    )
}

/// The default set, by status.
pub fn defaults() -> BTreeMap<u16, String> {
    STATUSES.iter().map(|s| (*s, default_page(*s))).collect()
}

/// Why a template cannot be stored, or None.
pub fn check(status: u16, html: &str) -> Result<(), String> {
    if !STATUSES.contains(&status) {
        return Err(format!(
            "{status}: dozor has pages for {}",
            STATUSES.map(|s| s.to_string()).join(", ")
        ));
    }
    if html.len() > MAX_BYTES {
        return Err(format!(
            "{} bytes: a page may be at most {} KiB",
            html.len(),
            MAX_BYTES >> 10
        ));
    }
    if html.contains('\0') {
        return Err("a page may not contain NUL bytes".into());
    }
    Ok(())
}

/// The file nginx serves: SSI directives the template itself holds are
/// made inert (SSI is on only for the placeholder), then the placeholder
/// becomes nginx's request id.
pub fn to_file(html: &str) -> String {
    html.replace("<!--#", "&lt;!--#")
        .replace(REQUEST_ID, r#"<!--# echo var="request_id" default="" -->"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_small_and_carry_the_request_id() {
        for (status, page) in defaults() {
            assert!(page.len() < 4096, "{status}: {} bytes", page.len());
            assert!(page.contains(REQUEST_ID));
            assert!(!page.contains("http://") && !page.contains("https://"));
            assert!(check(status, &page).is_ok());
        }
    }

    #[test]
    fn a_template_s_own_ssi_is_made_inert() {
        let f = to_file(r#"<!--# include virtual="/secret" --> {{request_id}}"#);
        assert!(f.starts_with("&lt;!--# include"), "{f}");
        assert!(
            f.ends_with(r#"<!--# echo var="request_id" default="" -->"#),
            "{f}"
        );
    }

    #[test]
    fn limits() {
        assert!(check(418, "x").is_err());
        assert!(check(503, &"x".repeat(MAX_BYTES + 1)).is_err());
        assert!(check(503, "a\0b").is_err());
    }
}
