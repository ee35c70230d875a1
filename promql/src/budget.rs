//! What a query may cost before any of it is evaluated: its length, how
//! deep its expression tree nests, and how many steps its subqueries take.
//!
//! Everything after parsing (planning, cloning, evaluating, dropping)
//! walks the tree recursively, so its depth must be bounded before any of
//! that runs. `promql-parser` builds the tree without recursion but checks
//! each new node's type by recursing into its children, so a long text is
//! parsed on a thread with a stack large enough for any text under the
//! length limit, and a tree that is too deep is dropped there too.

use promql_parser::parser::{Expr, Offset, SubqueryExpr};
use std::time::Duration;

/// Longest query text accepted.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Deepest expression tree accepted: nodes on the longest path from the
/// root to a leaf. `a + b + c` is 3 deep; `sum(rate(x[5m]))` is 3.
pub const MAX_DEPTH: usize = 200;
/// Most steps one subquery evaluation may take (`[30d:1m]` is 43,200).
pub const MAX_SUBQUERY_STEPS: i64 = 100_000;
/// Most inner evaluations nested subqueries may multiply to, per
/// evaluation of the outermost one.
pub const MAX_NESTED_SUBQUERY_STEPS: i64 = 1_000_000;
/// The step of a subquery written without one (Prometheus's default
/// evaluation interval).
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// Longest range, step or offset accepted (about 31,700 years): the
/// engine does its time arithmetic in i64 milliseconds.
pub const MAX_DURATION: Duration = Duration::from_secs(1_000_000_000_000);

/// Texts this short cannot nest deep enough to matter on any thread's
/// stack, so they are parsed where they are.
const INLINE_PARSE_BYTES: usize = 1024;
/// Enough for the parser's type checks on a text of `MAX_QUERY_BYTES`
/// (about 64 bytes of stack per nesting level, 8,192 levels at most) with a
/// wide margin. Only reserved; pages are committed as they are touched.
const PARSE_STACK_BYTES: usize = 64 << 20;

/// Why a text was not accepted.
#[derive(Debug)]
pub enum Refused {
    /// `promql-parser`'s message.
    Syntax(String),
    /// Over one of the budgets; the message names it.
    Budget(String),
}

/// Parses `query` within the budgets, or says why not.
pub fn parse(query: &str) -> Result<Expr, Refused> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(Refused::Budget(format!(
            "query is {} bytes long; the limit is {MAX_QUERY_BYTES} bytes",
            query.len()
        )));
    }
    check_duration_numbers(query).map_err(Refused::Budget)?;
    if query.len() <= INLINE_PARSE_BYTES {
        return parse_checked(query);
    }
    let text = query.to_string();
    let worker = std::thread::Builder::new()
        .name("promql-parse".into())
        .stack_size(PARSE_STACK_BYTES)
        .spawn(move || parse_checked(&text))
        .map_err(|e| Refused::Budget(format!("cannot start the parser thread: {e}")))?;
    worker
        .join()
        .unwrap_or_else(|_| Err(Refused::Syntax("the parser failed on this query".into())))
}

fn parse_checked(query: &str) -> Result<Expr, Refused> {
    // The parser has panicked on inputs before (see `check_duration_numbers`):
    // whatever else it may panic on becomes an error, not a dead request.
    let parsed = std::panic::catch_unwind(|| promql_parser::parser::parse(query))
        .map_err(|_| Refused::Syntax("the parser failed on this query".into()))?;
    let expr = parsed.map_err(Refused::Syntax)?;
    // On failure `expr` is dropped here, on a stack that can take it.
    check(&expr).map_err(Refused::Budget)?;
    crate::supported::check_supported(&expr).map_err(Refused::Syntax)?;
    Ok(expr)
}

/// `promql-parser` converts a plain number where a duration goes (`x[90]`,
/// `offset 60`) with `Duration::from_secs_f64`, which panics on NaN,
/// infinity, negative values and anything past u64 seconds (`x[1e30]`).
/// Such numbers are refused here, before the parser sees them.
fn check_duration_numbers(query: &str) -> Result<(), String> {
    use lrpar::{Lexeme, Lexer, NonStreamingLexer};
    use promql_parser::parser::token::{T_COLON, T_LEFT_BRACKET, T_NUMBER, T_OFFSET, T_SUB};
    // A text that does not lex gets the parser's own error.
    let Ok(lexer) = promql_parser::parser::lex::lexer(query) else {
        return Ok(());
    };
    let (mut prev, mut prev2) = (None, None);
    for lexeme in lexer.iter().flatten() {
        let tok = lexeme.tok_id();
        let duration_place = matches!(prev, Some(T_LEFT_BRACKET | T_COLON | T_OFFSET))
            || (prev == Some(T_SUB) && prev2 == Some(T_OFFSET));
        if tok == T_NUMBER && duration_place {
            let text = lexer.span_str(lexeme.span());
            let secs = promql_parser::util::parse_str_radix(text).unwrap_or(f64::NAN);
            if !(secs.is_finite() && secs >= 0.0 && secs <= MAX_DURATION.as_secs_f64()) {
                return Err(format!(
                    "{text} is not a usable duration; the longest is {}s",
                    MAX_DURATION.as_secs()
                ));
            }
        }
        (prev2, prev) = (prev, Some(tok));
    }
    Ok(())
}

fn check_duration(d: Duration) -> Result<(), String> {
    if d > MAX_DURATION {
        return Err(format!(
            "a duration of {}s is longer than the limit of {}s",
            d.as_secs(),
            MAX_DURATION.as_secs()
        ));
    }
    Ok(())
}

fn check_offset(o: &Option<Offset>) -> Result<(), String> {
    match o {
        Some(Offset::Pos(d)) | Some(Offset::Neg(d)) => check_duration(*d),
        None => Ok(()),
    }
}

/// The budgets a parsed tree must fit: depth, durations and subquery steps.
pub fn check(expr: &Expr) -> Result<(), String> {
    let mut todo: Vec<(&Expr, usize, i64)> = vec![(expr, 1, 1)];
    while let Some((e, depth, outer_steps)) = todo.pop() {
        if depth > MAX_DEPTH {
            return Err(format!(
                "query nests deeper than {MAX_DEPTH} levels; simplify it or split it into recording rules"
            ));
        }
        match e {
            Expr::VectorSelector(vs) => check_offset(&vs.offset)?,
            Expr::MatrixSelector(ms) => {
                check_offset(&ms.vs.offset)?;
                check_duration(ms.range)?;
            }
            Expr::Subquery(sq) => {
                check_offset(&sq.offset)?;
                check_duration(sq.range)?;
                check_duration(sq.step.unwrap_or_default())?;
            }
            _ => {}
        }
        let mut steps = outer_steps;
        if let Expr::Subquery(sq) = e {
            let own = subquery_steps(sq);
            if own > MAX_SUBQUERY_STEPS {
                return Err(format!(
                    "subquery {} would evaluate {own} steps; the limit is {MAX_SUBQUERY_STEPS} per subquery: use a larger resolution step",
                    subquery_suffix(sq)
                ));
            }
            steps = steps.saturating_mul(own.max(1));
            if steps > MAX_NESTED_SUBQUERY_STEPS {
                return Err(format!(
                    "nested subqueries would evaluate {steps} inner steps for each outer one; the limit is {MAX_NESTED_SUBQUERY_STEPS}: use larger resolution steps"
                ));
            }
        }
        for c in children(e) {
            todo.push((c, depth + 1, steps));
        }
    }
    Ok(())
}

/// Steps in one evaluation of a subquery: its range over its step.
pub fn subquery_steps(sq: &SubqueryExpr) -> i64 {
    let range = i64::try_from(sq.range.as_millis()).unwrap_or(i64::MAX);
    range / subquery_step_ms(sq)
}

pub fn subquery_step_ms(sq: &SubqueryExpr) -> i64 {
    sq.step
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_SUBQUERY_STEP_MS)
}

fn subquery_suffix(sq: &SubqueryExpr) -> String {
    let step = sq
        .step
        .map(|d| format!("{}ms", d.as_millis()))
        .unwrap_or_default();
    format!("[{}ms:{step}]", sq.range.as_millis())
}

/// The direct children of a node.
pub fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Aggregate(a) => {
            let mut v = vec![a.expr.as_ref()];
            v.extend(a.param.as_deref());
            v
        }
        Expr::Unary(u) => vec![&u.expr],
        Expr::Binary(b) => vec![&b.lhs, &b.rhs],
        Expr::Paren(p) => vec![&p.expr],
        Expr::Subquery(s) => vec![&s.expr],
        Expr::Call(c) => c.args.args.iter().map(|a| a.as_ref()).collect(),
        Expr::Extension(x) => x.expr.children().iter().collect(),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<Expr, String> {
        super::parse(q).map_err(|e| match e {
            Refused::Syntax(s) | Refused::Budget(s) => s,
        })
    }

    fn nested(open: &str, close: &str, n: usize, inner: &str) -> String {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn depth_is_bounded_for_every_shape() {
        let deep = MAX_DEPTH + 1;
        for q in [
            nested("abs(", ")", deep, "vector(1)"),
            nested("sum(", ")", deep, "up"),
            nested("(", ")", deep * 2, "1"),
            format!("1{}", "+1".repeat(deep)),
            format!("{}up", "-".repeat(deep)),
        ] {
            let e = parse(&q).unwrap_err();
            assert!(e.contains("deeper than 200"), "{}: {e}", &q[..20]);
        }
        // At the limit everything parses.
        assert!(parse(&nested("abs(", ")", MAX_DEPTH - 2, "vector(1)")).is_ok());
        assert!(parse(&format!("1{}", "+1".repeat(MAX_DEPTH / 2 - 1))).is_ok());
    }

    #[test]
    fn the_longest_text_parses_without_overflowing_on_a_small_stack() {
        // 8,191 terms, each check recursing the whole chain, on a thread
        // with tokio's default 2 MiB stack.
        let q = format!("1{}", "+1".repeat((MAX_QUERY_BYTES - 1) / 2));
        assert!(q.len() <= MAX_QUERY_BYTES);
        let e = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse(&q))
            .unwrap()
            .join()
            .unwrap()
            .unwrap_err();
        assert!(e.contains("deeper than"), "{e}");
        let long = "a".repeat(MAX_QUERY_BYTES + 1);
        assert!(parse(&long).unwrap_err().contains("16384 bytes"));
    }

    #[test]
    fn numbers_the_parser_would_panic_on_are_refused() {
        for q in [
            "delta(g[5555555555555555555555555555555555555])",
            "x offset 1e300",
            "x offset Inf",
            "x offset -1e300",
            "max_over_time(x[5m:1e30])",
            "rate(x[0xffffffffffffffffffff])",
        ] {
            let e = parse(q).unwrap_err();
            assert!(e.contains("not a usable duration"), "{q}: {e}");
        }
        // Not numbers inside brackets: the lexer refuses them.
        assert!(parse("rate(x[Inf])").is_err());
        let e = parse("rate(x[99999999999999y])").unwrap_err();
        assert!(!e.is_empty());
        let e = parse("x offset 100000000y").unwrap_err();
        assert!(e.contains("longer than the limit"), "{e}");
        // Numbers elsewhere are only numbers.
        assert!(
            parse("vector(1e300) + x[5m:] offset 90").is_err(),
            "type error, not a panic"
        );
        assert!(parse("vector(1e300) > bool 5").is_ok());
        assert!(parse("rate(x[90])").is_ok());
    }

    #[test]
    fn subquery_steps_are_bounded() {
        let e = parse("max_over_time(vector(1)[30d:1ms])").unwrap_err();
        assert!(e.contains("2592000000 steps"), "{e}");
        assert!(parse("max_over_time(vector(1)[30d:1m])").is_ok());
        // Without a step: 60 s.
        assert!(parse("max_over_time(vector(1)[60d:])").is_ok());
        let e = parse("max_over_time(max_over_time(vector(1)[1d:1s])[1h:1s])").unwrap_err();
        assert!(e.contains("nested subqueries"), "{e}");
    }
}
