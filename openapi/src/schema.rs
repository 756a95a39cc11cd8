//! Facts about schemas that both lint (to flag a document) and the harness's matchers (to tell a
//! document defect from a server failure) rely on: pure functions over JSON Schema values.

use serde_json::Value;

/// Follows local `$ref`s from `value` to a non-reference value; a dangling or cyclic reference
/// yields the reference object itself (the unresolved-ref rule reports it).
pub fn deref<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    let mut current = value;
    for _ in 0..32 {
        let Some(target) = current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| doc.pointer(p))
        else {
            return current;
        };
        current = target;
    }
    current
}

/// The `type` of a schema as a list (`type: [string, "null"]` in 3.1).
pub fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether a schema's description states that the value is a uint64 (what `p2mls lint --fix`
/// writes next to `format: int64`, the widest format OpenAPI registers).
pub fn states_uint64(schema: &Value) -> bool {
    schema
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.contains("uint64"))
}

/// Why an integer schema cannot hold every uint64, if it cannot. `format: int64` with a
/// description that states the uint64 range is accepted: generators know int64, not uint64.
pub fn narrower_than_u64(schema: &Value) -> Option<String> {
    let ts = types(schema);
    if ts.contains(&"number") && !ts.contains(&"integer") {
        return Some("a `number` (a double: exact only up to 2^53)".into());
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let max = match format {
            "int8" => Some("127"),
            "int16" => Some("32767"),
            "int32" => Some("2147483647"),
            "int64" if !states_uint64(schema) => Some("9223372036854775807"),
            "uint8" => Some("255"),
            "uint16" => Some("65535"),
            "uint32" => Some("4294967295"),
            _ => None,
        };
        if let Some(max) = max {
            return Some(format!("`format: {format}` (at most {max})"));
        }
    }
    let max = schema.get("maximum").and_then(Value::as_f64)?;
    (max < 18_446_744_073_709_551_615.0).then(|| format!("`maximum: {max}`"))
}

/// The HTTP status codes a body schema enumerates, if every value it allows is one: an `enum` or
/// `const` of integers in 100..=599, or `anyOf`/`oneOf` of such schemas. Numeric strings count
/// too when `text` (a text/plain body). `root` resolves `$ref`s.
pub fn status_codes(root: &Value, schema: &Value, text: bool) -> Option<Vec<u16>> {
    let schema = deref(root, schema);
    let as_status = |v: &Value| -> Option<u16> {
        let n = match v {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) if text => s.trim().parse::<f64>().ok()?,
            _ => return None,
        };
        (n.fract() == 0.0 && (100.0..=599.0).contains(&n)).then_some(n as u16)
    };
    let mut codes = Vec::new();
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        for v in values {
            codes.push(as_status(v)?);
        }
    } else if let Some(v) = schema.get("const") {
        codes.push(as_status(v)?);
    } else if let Some(branches) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        for branch in branches {
            codes.extend(status_codes(root, branch, text)?);
        }
    }
    if codes.is_empty() {
        return None;
    }
    codes.sort_unstable();
    codes.dedup();
    Some(codes)
}
