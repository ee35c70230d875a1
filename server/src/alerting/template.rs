//! Annotation templates: the subset of Prometheus's Go templates that rule
//! annotations use, evaluated by a tiny interpreter with no access to
//! files, the environment, queries or anything but the alert itself.
//!
//! Supported: `{{ $labels.name }}`, `{{ $value }}`, `{{ $externalLabels }}`
//! is not; pipes into `humanize`, `humanize1024`, `humanizePercentage`,
//! `humanizeDuration`, `printf "%.2f"`, `toUpper`, `toLower`, `title`.
//! `{{ .Labels.x }}` and `{{ .Value }}` are accepted as aliases. Anything
//! else is an error when the rule is loaded, not when it fires.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("template: {0}")]
pub struct TemplateError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Source {
    Label(String),
    Value,
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Func {
    Humanize,
    Humanize1024,
    Percentage,
    Duration,
    Printf(String),
    Upper,
    Lower,
    Title,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Expr(Source, Vec<Func>),
}

/// A parsed template; parse once when the rule loads, render per alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Part>);

fn source(tok: &str) -> Result<Source, TemplateError> {
    if let Some(name) = tok
        .strip_prefix("$labels.")
        .or_else(|| tok.strip_prefix(".Labels."))
    {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(TemplateError(format!("bad label name in {tok:?}")));
        }
        return Ok(Source::Label(name.to_string()));
    }
    match tok {
        "$value" | ".Value" => Ok(Source::Value),
        t if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') => {
            Ok(Source::Text(t[1..t.len() - 1].to_string()))
        }
        t => Err(TemplateError(format!(
            "unsupported {t:?}: use $labels.NAME or $value"
        ))),
    }
}

fn func(stage: &str) -> Result<Func, TemplateError> {
    let stage = stage.trim();
    if let Some(fmt) = stage.strip_prefix("printf ") {
        let fmt = fmt.trim();
        let ok = fmt.len() >= 2 && fmt.starts_with('"') && fmt.ends_with('"');
        return if ok {
            Ok(Func::Printf(fmt[1..fmt.len() - 1].to_string()))
        } else {
            Err(TemplateError(format!(
                "printf needs a quoted format: {stage:?}"
            )))
        };
    }
    Ok(match stage {
        "humanize" => Func::Humanize,
        "humanize1024" => Func::Humanize1024,
        "humanizePercentage" => Func::Percentage,
        "humanizeDuration" => Func::Duration,
        "toUpper" => Func::Upper,
        "toLower" => Func::Lower,
        "title" => Func::Title,
        other => return Err(TemplateError(format!("unknown function {other:?}"))),
    })
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Lit(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| TemplateError("unclosed {{".into()))?;
            let inner = after[..close]
                .trim()
                .trim_start_matches('-')
                .trim_end_matches('-')
                .trim();
            let mut stages = inner.split('|');
            let first = stages.next().unwrap_or("").trim();
            // `humanize $value` (function first) is the other common form.
            let (src, mut funcs) = if let Some(args) = first.strip_prefix("printf ") {
                // `printf "FORMAT" SOURCE`
                let args = args.trim();
                let end = args[1..]
                    .find('"')
                    .map(|i| i + 2)
                    .filter(|_| args.starts_with('"'));
                let Some(end) = end else {
                    return Err(TemplateError(format!(
                        "printf needs a quoted format: {first:?}"
                    )));
                };
                (
                    source(args[end..].trim())?,
                    vec![Func::Printf(args[1..end - 1].to_string())],
                )
            } else {
                match first.split_once(' ') {
                    Some((f, arg))
                        if !first.starts_with('"')
                            && !f.starts_with('$')
                            && !f.starts_with('.') =>
                    {
                        (source(arg.trim())?, vec![func(f)?])
                    }
                    _ => (source(first)?, Vec::new()),
                }
            };
            for s in stages {
                funcs.push(func(s)?);
            }
            parts.push(Part::Expr(src, funcs));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Ok(Template(parts))
    }

    /// Renders for one alert. The output is plain text: notifiers escape
    /// it for their format (HTML for Telegram).
    pub fn render(&self, labels: &BTreeMap<String, String>, value: f64) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Expr(src, funcs) => {
                    let mut v = match src {
                        Source::Label(n) => Val::Str(labels.get(n).cloned().unwrap_or_default()),
                        Source::Value => Val::Num(value),
                        Source::Text(t) => Val::Str(t.clone()),
                    };
                    for f in funcs {
                        v = apply(f, v);
                    }
                    out.push_str(&v.text());
                }
            }
        }
        out
    }
}

enum Val {
    Num(f64),
    Str(String),
}

impl Val {
    fn num(&self) -> f64 {
        match self {
            Val::Num(n) => *n,
            Val::Str(s) => s.trim().parse().unwrap_or(f64::NAN),
        }
    }

    fn text(&self) -> String {
        match self {
            Val::Num(n) => format_value(*n),
            Val::Str(s) => s.clone(),
        }
    }
}

/// Go's `%v` of a float64, close enough: integers without a fraction.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn scaled(v: f64, base: f64, units: &[&str]) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_value(v);
    }
    let mut x = v;
    let mut i = 0;
    while x.abs() >= base && i + 1 < units.len() {
        x /= base;
        i += 1;
    }
    format!("{}{}", trim4(x), units[i])
}

fn trim4(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn humanize(v: f64) -> String {
    if v.abs() >= 1.0 || v == 0.0 || !v.is_finite() {
        return scaled(v, 1000.0, &["", "k", "M", "G", "T", "P", "E"]);
    }
    let mut x = v;
    let mut i = 0;
    let units = ["", "m", "u", "n", "p"];
    while x.abs() < 1.0 && i + 1 < units.len() {
        x *= 1000.0;
        i += 1;
    }
    format!("{}{}", trim4(x), units[i])
}

fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        return format_value(secs);
    }
    if secs.abs() < 1.0 {
        return format!("{}ms", trim4(secs * 1000.0));
    }
    let sign = if secs < 0.0 { "-" } else { "" };
    let total = secs.abs();
    let (d, h, m) = (
        (total / 86_400.0) as i64,
        (total % 86_400.0 / 3600.0) as i64,
        (total % 3600.0 / 60.0) as i64,
    );
    let s = total % 60.0;
    let mut out = sign.to_string();
    if d > 0 {
        out.push_str(&format!("{d}d "));
    }
    if d > 0 || h > 0 {
        out.push_str(&format!("{h}h "));
    }
    if d > 0 || h > 0 || m > 0 {
        out.push_str(&format!("{m}m "));
    }
    out.push_str(&format!("{}s", trim4(s)));
    out
}

fn printf(fmt: &str, v: f64) -> String {
    // Only one verb: %d, %f, %.Nf, %g, %s or %v; text around it is kept.
    let Some(at) = fmt.find('%') else {
        return fmt.to_string();
    };
    let tail = &fmt[at + 1..];
    let verb_end = tail
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| i + 1)
        .unwrap_or(0);
    let (spec, after) = tail.split_at(verb_end);
    let body = match (
        spec.chars().last(),
        spec.strip_suffix('f').and_then(|p| p.strip_prefix('.')),
    ) {
        (Some('f'), Some(prec)) => format!("{v:.*}", prec.parse().unwrap_or(6)),
        (Some('f'), None) => format!("{v:.6}"),
        (Some('d'), _) => format!("{}", v as i64),
        _ => format_value(v),
    };
    format!("{}{body}{after}", &fmt[..at])
}

fn apply(f: &Func, v: Val) -> Val {
    match f {
        Func::Humanize => Val::Str(humanize(v.num())),
        Func::Humanize1024 => Val::Str(scaled(
            v.num(),
            1024.0,
            &["", "ki", "Mi", "Gi", "Ti", "Pi", "Ei"],
        )),
        Func::Percentage => Val::Str(format!("{}%", trim4(v.num() * 100.0))),
        Func::Duration => Val::Str(duration(v.num())),
        Func::Printf(fmt) => Val::Str(printf(fmt, v.num())),
        Func::Upper => Val::Str(v.text().to_uppercase()),
        Func::Lower => Val::Str(v.text().to_lowercase()),
        Func::Title => {
            let t = v.text();
            let mut c = t.chars();
            Val::Str(
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> BTreeMap<String, String> {
        [
            ("host".to_string(), "web-1".to_string()),
            ("x".into(), "<b>&".into()),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn renders_labels_values_and_helpers() {
        let r = |t: &str, v: f64| Template::parse(t).unwrap().render(&labels(), v);
        assert_eq!(
            r("CPU on {{ $labels.host }} is {{ $value }}", 93.0),
            "CPU on web-1 is 93"
        );
        assert_eq!(r("{{ .Labels.host }}={{ .Value }}", 0.5), "web-1=0.5");
        assert_eq!(r("{{ $value | humanize }}", 1_234_567.0), "1.2346M");
        assert_eq!(r("{{ humanize $value }}", 0.0012), "1.2m");
        assert_eq!(r("{{ $value | humanize1024 }}", 1_073_741_824.0), "1Gi");
        assert_eq!(r("{{ $value | humanizePercentage }}", 0.8734), "87.34%");
        assert_eq!(
            r("{{ $value | humanizeDuration }}", 90_061.0),
            "1d 1h 1m 1s"
        );
        assert_eq!(r("{{ printf \"%.2f\" $value }}%", 93.456), "93.46%");
        assert_eq!(r("{{ $labels.missing }}|{{ $labels.x }}", 1.0), "|<b>&");
        assert_eq!(r("{{ $labels.host | toUpper }}", 1.0), "WEB-1");
        assert_eq!(r("no templates", 1.0), "no templates");
    }

    #[test]
    fn refuses_what_it_cannot_do_safely() {
        for bad in [
            "{{ $labels.host",
            "{{ env \"HOME\" }}",
            "{{ query \"up\" }}",
            "{{ $labels.a-b }}",
            "{{ .Foo }}",
            "{{ $value | exec }}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
