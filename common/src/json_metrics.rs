//! JSON metrics: a JSON document of numbers, nested objects and arrays
//! becomes gauges.
//!
//! - A number at path `a.b.c` becomes `PREFIX_a_b_c`. Names are sanitised:
//!   a character outside `[a-zA-Z0-9_:]` becomes `_`, and a name starting
//!   with a digit gets a leading `_`.
//! - `true`/`false` become 1/0; `null` is skipped.
//! - A string is skipped, unless its key is one of `label_keys`: then it
//!   becomes a label on every number in the same object and below.
//! - An array's elements are told apart by a label: the element's
//!   `label_keys` string when it has one, else `index="N"`.
//!
//! ```text
//! {"uptime": 12, "db": {"pool": {"active": 3}, "ok": true},
//!  "queues": [{"name": "mail", "depth": 4}], "version": "1.2"}
//! prefix "app", label_keys ["name"]:
//!   app_uptime 12
//!   app_db_pool_active 3
//!   app_db_ok 1
//!   app_queues_depth{name="mail"} 4
//! ```

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct JsonSample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// How deep a document may nest before the rest is skipped.
pub const MAX_DEPTH: usize = 32;

fn segment(s: &str, colon: bool) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn lead(mut out: String) -> String {
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A metric name: `[a-zA-Z0-9_:]`, with a leading `_` before a digit.
pub fn sanitize(s: &str) -> String {
    lead(segment(s, true))
}

/// A label name: `[a-zA-Z0-9_]`, with a leading `_` before a digit.
pub fn sanitize_label(s: &str) -> String {
    lead(segment(s, false))
}

/// The gauges in `doc` (keys in sorted order).
pub fn samples(doc: &Value, prefix: &str, label_keys: &[String]) -> Vec<JsonSample> {
    let mut out = Vec::new();
    let path = if prefix.is_empty() {
        Vec::new()
    } else {
        vec![sanitize(prefix)]
    };
    walk(doc, &path, &[], label_keys, 0, &mut out);
    out
}

fn walk(
    v: &Value,
    path: &[String],
    labels: &[(String, String)],
    keys: &[String],
    depth: usize,
    out: &mut Vec<JsonSample>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let emit = |value: f64, out: &mut Vec<JsonSample>| {
        let name = if path.is_empty() {
            "value".to_string()
        } else {
            lead(path.join("_"))
        };
        out.push(JsonSample {
            name,
            labels: labels.to_vec(),
            value,
        });
    };
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                emit(f, out);
            }
        }
        Value::Bool(b) => emit(if *b { 1.0 } else { 0.0 }, out),
        Value::Object(map) => {
            let mut here = labels.to_vec();
            for (k, v) in map {
                if let (Value::String(s), true) = (v, keys.contains(k)) {
                    let k = sanitize_label(k);
                    here.retain(|(n, _)| *n != k);
                    here.push((k, s.clone()));
                }
            }
            for (k, v) in map {
                if matches!(v, Value::String(_) | Value::Null) {
                    continue;
                }
                let mut p = path.to_vec();
                p.push(segment(k, true));
                walk(v, &p, &here, keys, depth + 1, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let named = item.as_object().is_some_and(|m| {
                    keys.iter()
                        .any(|k| matches!(m.get(k), Some(Value::String(_))))
                });
                let mut l = labels.to_vec();
                if !named {
                    l.retain(|(n, _)| n != "index");
                    l.push(("index".into(), i.to_string()));
                }
                walk(item, path, &l, keys, depth + 1, out);
            }
        }
        Value::String(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(s: &[JsonSample]) -> Vec<String> {
        s.iter()
            .map(|x| {
                let l: Vec<String> = x.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                format!("{}{{{}}} {}", x.name, l.join(","), x.value)
            })
            .collect()
    }

    #[test]
    fn the_documented_mapping() {
        let doc: Value = serde_json::from_str(
            r#"{"uptime": 12, "db": {"pool": {"active": 3}, "ok": true, "err": null},
                "queues": [{"name": "mail", "depth": 4}, {"name": "sms", "depth": 0}],
                "loads": [0.5, 0.7], "version": "1.2", "9lives": 9, "a-b.c": 1}"#,
        )
        .unwrap();
        let mut got = render(&samples(&doc, "app", &["name".into()]));
        got.sort();
        let mut want = [
            "app_uptime{} 12",
            "app_db_pool_active{} 3",
            "app_db_ok{} 1",
            "app_queues_depth{name=\"mail\"} 4",
            "app_queues_depth{name=\"sms\"} 0",
            "app_loads{index=\"0\"} 0.5",
            "app_loads{index=\"1\"} 0.7",
            "app_9lives{} 9",
            "app_a_b_c{} 1",
        ];
        want.sort();
        assert_eq!(got, want);
        assert_eq!(
            render(&samples(&serde_json::json!(5), "", &[])),
            ["value{} 5"]
        );
        assert_eq!(sanitize("9lives"), "_9lives");
        let top = samples(&serde_json::json!({"9lives": 9}), "", &[]);
        assert_eq!(top[0].name, "_9lives");
        // Nesting past the limit is skipped, not a stack overflow.
        let mut deep = serde_json::json!(1);
        for _ in 0..200 {
            deep = serde_json::json!({ "a": deep });
        }
        assert!(samples(&deep, "x", &[]).is_empty());
    }
}
