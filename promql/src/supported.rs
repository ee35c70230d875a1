//! What dozor evaluates of what `promql-parser` accepts.

use promql_parser::parser::Expr;

/// Functions `promql-parser` knows that dozor does not evaluate: refused
/// when a query is parsed, whatever data it would meet.
const NOT_EVALUATED: &[&str] = &["info", "integral", "start_timestamp"];

/// Refuses a query naming a function dozor does not evaluate, at parse
/// time, so the answer never depends on whether data matched.
pub fn check_supported(expr: &Expr) -> std::result::Result<(), String> {
    let mut todo = vec![expr];
    while let Some(e) = todo.pop() {
        if let Expr::Call(c) = e {
            if NOT_EVALUATED.contains(&c.func.name) {
                return Err(format!(
                    "function {:?} is not supported by dozor",
                    c.func.name
                ));
            }
        }
        todo.extend(crate::budget::children(e));
    }
    Ok(())
}
