//! Differential mode (`p2mls run --target URL --differential`): the same scripted checks run
//! against the target and against the embedded reference server, and every difference in HTTP
//! status, redacted body shape and gateway event shape is reported, check by check.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::redact::redact;
use crate::runner::CheckReport;

/// One place where the target behaved unlike the reference server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Difference {
    pub check: String,
    /// `http[3]` or `gateway[5]`: which exchange or frame of the check.
    pub at: String,
    pub target: String,
    pub reference: String,
}

/// The shape of a JSON value: types instead of values, except the few values that carry meaning
/// in every implementation (gateway namespace and opcode, booleans).
pub fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let kept = matches!(k.as_str(), "n" | "op") || v.is_boolean();
                    (k.clone(), if kept { v.clone() } else { shape(v) })
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::String(_) => Value::String("string".into()),
        Value::Number(_) => Value::String("number".into()),
        Value::Bool(b) => Value::Bool(*b),
        Value::Null => Value::Null,
    }
}

fn body_shape(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => shape(&v).to_string(),
        Err(_) if text.is_empty() => "<empty>".into(),
        Err(_) => "<not JSON>".into(),
    }
}

/// What is compared of one HTTP exchange: method and redacted path (the harness makes the same
/// requests to both), the status and the response body's shape.
fn http_lines(report: &CheckReport) -> Vec<String> {
    report
        .trace
        .iter()
        .flat_map(|t| &t.exchanges)
        .map(|x| {
            // `curl -X METHOD 'URL' …`: keep the method and the path, drop host and port.
            let mut words = x.request.split_whitespace().skip(2);
            let method = words.next().unwrap_or("");
            let url = words.next().unwrap_or("").trim_matches('\'');
            let path = url
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
                .unwrap_or_else(|| url.to_owned());
            format!(
                "{method} {} -> {} {}",
                redact(&path),
                x.status_text(),
                body_shape(&x.body)
            )
        })
        .collect()
}

/// What is compared of gateway frames: connection, direction and the payload's shape.
fn gateway_lines(report: &CheckReport) -> Vec<String> {
    report
        .trace
        .iter()
        .flat_map(|t| &t.transcript)
        .filter(|f| !f.payload.starts_with("open "))
        .map(|f| {
            format!(
                "{} {} {}",
                redact(&f.connection),
                f.direction.as_str(),
                body_shape(&f.payload)
            )
        })
        .collect()
}

fn first_difference(
    check: &str,
    kind: &str,
    target: &[String],
    reference: &[String],
) -> Option<Difference> {
    let len = target.len().max(reference.len());
    (0..len).find_map(|i| {
        let (t, r) = (target.get(i), reference.get(i));
        (t != r).then(|| Difference {
            check: check.to_owned(),
            at: format!("{kind}[{i}]"),
            target: t.cloned().unwrap_or_else(|| "<nothing>".into()),
            reference: r.cloned().unwrap_or_else(|| "<nothing>".into()),
        })
    })
}

/// The first HTTP and the first gateway difference of every check both runs have.
pub fn compare(target: &[CheckReport], reference: &[CheckReport]) -> Vec<Difference> {
    let mut out = Vec::new();
    for t in target {
        let Some(r) = reference.iter().find(|r| r.def.id == t.def.id) else {
            continue;
        };
        if t.verdict != r.verdict {
            out.push(Difference {
                check: t.def.id.clone(),
                at: "verdict".into(),
                target: t.verdict.as_str().into(),
                reference: r.verdict.as_str().into(),
            });
        }
        out.extend(first_difference(
            &t.def.id,
            "http",
            &http_lines(t),
            &http_lines(r),
        ));
        out.extend(first_difference(
            &t.def.id,
            "gateway",
            &gateway_lines(t),
            &gateway_lines(r),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_keep_types_opcodes_and_flags() {
        let v = serde_json::json!({"n": "core", "op": 9, "d": {"success": true, "service": "mls", "s": 4}, "list": [1, "x"]});
        assert_eq!(
            shape(&v),
            serde_json::json!({"n": "core", "op": 9, "d": {"success": true, "service": "string", "s": "number"}, "list": ["number", "string"]})
        );
    }

    #[test]
    fn first_differences_name_the_position() {
        let a = vec!["x".to_owned(), "y".to_owned()];
        let b = vec!["x".to_owned()];
        let d = first_difference("c", "http", &a, &b).expect("differs");
        assert_eq!(d.at, "http[1]");
        assert_eq!(d.reference, "<nothing>");
        assert!(first_difference("c", "http", &a, &a).is_none());
    }
}
