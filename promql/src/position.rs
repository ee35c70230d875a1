//! Positions for parse errors. `promql-parser` returns bare messages (it
//! drops the grammar's spans), so the position is recovered from the
//! message and the query text, and the error is printed the way Prometheus
//! prints it: `LINE:COL: parse error: MESSAGE`.

/// Byte offsets of unmatched brackets and an unterminated string, found by
/// one pass that skips string contents and comments.
struct Scan {
    unclosed_paren: Option<usize>,
    stray_close: Option<usize>,
    open_quote: Option<usize>,
}

fn scan(q: &str) -> Scan {
    let mut parens = Vec::new();
    let mut stray_close = None;
    let mut quote: Option<(char, usize)> = None;
    let mut escaped = false;
    let mut comment = false;
    for (i, c) in q.char_indices() {
        if comment {
            comment = c != '\n';
            continue;
        }
        if let Some((open, _)) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && open != '`' {
                escaped = true;
            } else if c == open {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some((c, i)),
            '#' => comment = true,
            '(' => parens.push(i),
            ')' if parens.pop().is_none() && stray_close.is_none() => stray_close = Some(i),
            _ => {}
        }
    }
    Scan {
        unclosed_paren: parens.last().copied(),
        stray_close,
        open_quote: quote.map(|q| q.1),
    }
}

/// Finds `word` in `q` as a whole word (not inside a longer name).
fn find_word(q: &str, word: &str) -> Option<usize> {
    q.match_indices(word).map(|m| m.0).find(|&i| {
        let before = q[..i].chars().next_back().is_none_or(|c| !IDENT(c));
        let after = q[i + word.len()..].chars().next().is_none_or(|c| !IDENT(c));
        before && after
    })
}

/// promql-parser's message when the grammar rejects the text.
const INVALID_QUERY: &str = "invalid promql query";

const IDENT: fn(char) -> bool = |c| c.is_ascii_alphanumeric() || c == '_' || c == ':';

/// Text that cannot end a complete expression.
fn ends_incomplete(q: &str) -> bool {
    const OPS: [&str; 15] = [
        "+", "-", "*", "/", "%", "^", "=", "!=", ">", "<", "(", ",", "{", "[", "@",
    ];
    const WORDS: [&str; 12] = [
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "atan2",
    ];
    let t = q.trim_end();
    let start = t
        .char_indices()
        .rev()
        .find(|(_, c)| !IDENT(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    OPS.iter().any(|o| t.ends_with(o)) || WORDS.contains(&&t[start..])
}

/// The byte offset an error message points at, when it can be told.
pub fn locate(q: &str, msg: &str) -> Option<usize> {
    let s = scan(q);
    let quoted = |prefix: &str| {
        msg.strip_prefix(prefix)
            .map(|rest| rest.trim_end_matches('\'').trim_start_matches('\''))
    };
    if msg.starts_with("unclosed left parenthesis") {
        return s.unclosed_paren;
    }
    if msg.starts_with("unexpected right parenthesis") {
        return s.stray_close;
    }
    if msg.starts_with("unterminated quoted string") {
        return s.open_quote;
    }
    if msg.starts_with("unexpected end of input") {
        return Some(q.trim_end().len());
    }
    if let Some(tok) = quoted("bad number or duration syntax: ") {
        return q.find(tok);
    }
    if let Some(name) = quoted("unknown function with name ") {
        return find_word(q, name);
    }
    if let Some(re) = msg.strip_prefix("illegal regex for ") {
        return q.find(re);
    }
    if let Some(i) = msg.find("in call to function '") {
        let name = &msg[i + "in call to function '".len()..];
        return find_word(q, name.split('\'').next().unwrap_or(name));
    }
    if msg == INVALID_QUERY && ends_incomplete(q) {
        return Some(q.trim_end().len());
    }
    None
}

/// `LINE:COL` (1-based; the column counts bytes like Prometheus's).
pub fn line_col(q: &str, offset: usize) -> (usize, usize) {
    let before = &q[..offset.min(q.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

/// Prometheus's text for a parse error: `1:14: parse error: …`. Messages
/// whose place cannot be told point at the start, as Prometheus does for
/// errors about the whole expression.
pub fn format(q: &str, msg: &str) -> String {
    let (line, col) = line_col(q, locate(q, msg).unwrap_or(0));
    let msg = if msg == INVALID_QUERY && ends_incomplete(q) {
        "unexpected end of input"
    } else {
        msg
    };
    format!("{line}:{col}: parse error: {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(q: &str) -> String {
        let msg = promql_parser::parser::parse(q).unwrap_err();
        format(q, &msg)
    }

    #[test]
    fn positions_match_the_offending_text() {
        assert_eq!(
            at("sum(rate(x[5m])"),
            "1:4: parse error: unclosed left parenthesis"
        );
        assert_eq!(
            at("x ) y"),
            "1:3: parse error: unexpected right parenthesis ')'"
        );
        assert_eq!(
            at("foo{a=\"b\""),
            "1:10: parse error: unexpected end of input inside braces"
        );
        assert_eq!(at("x +"), "1:4: parse error: unexpected end of input");
        assert_eq!(
            at("1 +\n abc(x)"),
            "2:2: parse error: unknown function with name 'abc'"
        );
        assert_eq!(
            at("x[5x]"),
            "1:3: parse error: bad number or duration syntax: 5x"
        );
        assert_eq!(
            at("up + \"a"),
            "1:6: parse error: unterminated quoted string \""
        );
        assert_eq!(
            at("1 + rate(x)"),
            "1:5: parse error: expected type matrix in call to function 'rate', got vector"
        );
        // A ')' inside a string is not a bracket.
        assert_eq!(
            at("sum(x{a=\")\"}"),
            "1:4: parse error: unclosed left parenthesis"
        );
    }

    #[test]
    fn never_panics_on_odd_text() {
        for q in [
            "", "(", ")", "\"", "é)", "x{a=\"\\", "# c\n(", "sum by", "x offset",
        ] {
            if let Err(msg) = promql_parser::parser::parse(q) {
                let _ = format(q, &msg);
            }
        }
    }
}
