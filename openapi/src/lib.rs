//! OpenAPI 3.0.x / 3.1.x loading: operations with resolved schemas, and response validation with
//! the JSON Schema dialect of the document's version (Draft 4 semantics for 3.0 with `nullable`
//! translated; Draft 2020-12 for 3.1).

pub mod schema;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use thiserror::Error;

/// Our restatement of polyproto-mls v0.1.0-alpha.4, used when no `--spec` is given.
pub const DEFAULT_SPEC: &str =
    include_str!("../../specs/openapi/polyproto-mls-v0.1.0-alpha.4.openapi-3.1.yaml");
pub const DEFAULT_SPEC_NAME: &str = "specs/openapi/polyproto-mls-v0.1.0-alpha.4.openapi-3.1.yaml";
/// Our restatement of the operations of polyproto-core v1.0-beta.3 that a run calls (ID-Certs,
/// session revocation, encrypted private key material).
pub const CORE_SPEC: &str =
    include_str!("../../specs/openapi/polyproto-core-v1.0-beta.3.openapi-3.1.yaml");
pub const CORE_SPEC_NAME: &str = "specs/openapi/polyproto-core-v1.0-beta.3.openapi-3.1.yaml";

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const MAX_REF_DEPTH: usize = 64;

#[derive(Debug, Error)]
pub enum SpecError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{source_name} is not valid YAML or JSON: {message}")]
    Syntax {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    /// A schema of the document that the JSON Schema validator cannot compile.
    #[error("schema does not compile: {0}")]
    Schema(String),
    /// A `$ref` that cannot be followed.
    #[error("{0}")]
    Reference(String),
    /// A body that cannot be read as an instance of its media type.
    #[error("{0}")]
    Body(String),
}

/// The JSON Schema dialect of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAPI 3.0.x: an extended subset of Draft 4 (`nullable`, no `type` arrays).
    Oas30,
    /// OpenAPI 3.1.x: JSON Schema 2020-12.
    Oas31,
}

/// One operation with `$ref`s resolved.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub secured: bool,
    /// Media type -> schema of the request body.
    pub request_body: BTreeMap<String, Value>,
    /// Status ("200", "4XX", "default") -> media type -> schema (None: no schema given).
    pub responses: BTreeMap<String, BTreeMap<String, Option<Value>>>,
    /// Parameters as declared (resolved).
    pub parameters: Vec<Value>,
}

impl Operation {
    /// Whether `status` is documented (exactly, by range, or by `default`).
    pub fn documents(&self, status: u16) -> bool {
        self.response_for(status).is_some()
    }

    /// The media types documented for `status` (exactly, by range, or by `default`).
    pub fn response_for(&self, status: u16) -> Option<&BTreeMap<String, Option<Value>>> {
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        self.responses
            .get(&exact)
            .or_else(|| self.responses.get(&range))
            .or_else(|| self.responses.get(&range.to_lowercase()))
            .or_else(|| self.responses.get("default"))
    }

    /// Statuses documented as success (2xx).
    pub fn success_statuses(&self) -> Vec<u16> {
        self.responses
            .keys()
            .filter_map(|k| k.parse::<u16>().ok())
            .filter(|s| (200..300).contains(s))
            .collect()
    }
}

/// A loaded API description.
#[derive(Debug, Clone)]
pub struct ApiSpec {
    pub source_name: String,
    pub openapi: String,
    pub dialect: Dialect,
    pub title: String,
    pub version: String,
    pub operations: BTreeMap<String, Operation>,
}

impl ApiSpec {
    /// Our default document.
    pub fn default_spec() -> Self {
        Self::parse(DEFAULT_SPEC, DEFAULT_SPEC_NAME).unwrap_or_else(|e| {
            panic!("the embedded default spec is invalid (a build defect): {e}")
        })
    }

    /// Our core beta.3 document (`CORE_SPEC`).
    pub fn core_spec() -> Self {
        Self::parse(CORE_SPEC, CORE_SPEC_NAME).unwrap_or_else(|e| {
            panic!("the embedded core document is invalid (a build defect): {e}")
        })
    }

    /// Loads a YAML or JSON document from a file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses a YAML or JSON document.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, SpecError> {
        let invalid = |message: String| SpecError::Invalid {
            source_name: source_name.to_owned(),
            message,
        };
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| SpecError::Syntax {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        })?;
        let openapi = doc
            .get("openapi")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid("no `openapi` version field (is this an OpenAPI 3 document?)".into())
            })?
            .to_owned();
        let dialect = if openapi.starts_with("3.0.") {
            // openapiv3 models 3.0 exactly: a typed parse catches structural mistakes early.
            serde_json::from_value::<openapiv3::OpenAPI>(doc.clone())
                .map_err(|e| invalid(format!("not a valid OpenAPI 3.0 document: {e}")))?;
            Dialect::Oas30
        } else if openapi.starts_with("3.1.") {
            Dialect::Oas31
        } else {
            return Err(invalid(format!(
                "unsupported OpenAPI version `{openapi}` (need 3.0.x or 3.1.x)"
            )));
        };
        let info = doc
            .get("info")
            .ok_or_else(|| invalid("no `info` object".into()))?;
        let title = info
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let version = info
            .get("version")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("no `info.version`".into()))?
            .to_owned();
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("no `paths` object".into()))?;
        let global_security = doc
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        let mut operations = BTreeMap::new();
        for (path, item) in paths {
            let item = resolve(&doc, item, 0).map_err(|m| invalid(format!("paths.{path}: {m}")))?;
            let shared_params = item
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                let here = format!("paths.{path}.{method}");
                let id = op.get("operationId").and_then(Value::as_str).map_or_else(
                    || format!("{} {}", method.to_uppercase(), path),
                    str::to_owned,
                );
                let secured = match op.get("security").and_then(Value::as_array) {
                    Some(list) => {
                        !list.is_empty()
                            && !list
                                .iter()
                                .any(|r| r.as_object().is_some_and(Map::is_empty))
                    }
                    None => global_security,
                };
                let mut request_body = BTreeMap::new();
                if let Some(content) = op
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object)
                {
                    for (media, body) in content {
                        if let Some(schema) = body.get("schema") {
                            request_body.insert(media.clone(), schema.clone());
                        }
                    }
                }
                let responses_obj = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .ok_or_else(|| invalid(format!("{here}: no `responses`")))?;
                let mut responses = BTreeMap::new();
                for (status, response) in responses_obj {
                    let mut media_map = BTreeMap::new();
                    if let Some(content) = response.get("content").and_then(Value::as_object) {
                        for (media, body) in content {
                            media_map.insert(media.clone(), body.get("schema").cloned());
                        }
                    }
                    responses.insert(status.clone(), media_map);
                }
                let mut parameters = shared_params.clone();
                parameters.extend(
                    op.get("parameters")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
                let op = Operation {
                    id: id.clone(),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    secured,
                    request_body,
                    responses,
                    parameters,
                };
                if operations.insert(id.clone(), op).is_some() {
                    return Err(invalid(format!("operationId `{id}` is used twice")));
                }
            }
        }
        let spec = Self {
            source_name: source_name.to_owned(),
            openapi,
            dialect,
            title,
            version,
            operations,
        };
        // Every schema must compile, so that a broken document fails now and not mid-run.
        for op in spec.operations.values() {
            for media in op.responses.values() {
                for schema in media.values().flatten() {
                    spec.compile(schema)
                        .map_err(|m| invalid(format!("{}: {m}", op.id)))?;
                }
            }
        }
        Ok(spec)
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.get(id)
    }

    /// Compiles a resolved schema in the document's dialect. OpenAPI's `int32`/`int64` formats
    /// become bounds, as OpenAPI defines them (JSON Schema leaves unknown formats unchecked).
    pub fn compile(&self, schema: &Value) -> Result<jsonschema::Validator, SpecError> {
        let (schema, draft) = match self.dialect {
            Dialect::Oas30 => (translate_oas30(schema), jsonschema::Draft::Draft4),
            Dialect::Oas31 => (schema.clone(), jsonschema::Draft::Draft202012),
        };
        let schema = bound_integer_formats(&schema);
        jsonschema::options()
            .with_draft(draft)
            .build(&schema)
            .map_err(|e| SpecError::Schema(e.to_string()))
    }

    /// Validates a response against the document. Returns the list of problems.
    pub fn check_response(
        &self,
        operation: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), Vec<String>> {
        let op = self
            .operation(operation)
            .ok_or_else(|| vec![format!("operation {operation} is not in the document")])?;
        let media = op
            .response_for(status)
            .ok_or_else(|| vec![format!("status {status} is not documented for {operation}")])?;
        if media.is_empty() {
            return if body.is_empty() {
                Ok(())
            } else {
                Err(vec![format!(
                    "status {status} documents no body, but one was sent"
                )])
            };
        }
        let essence = media_type_essence(content_type);
        let Some((media_type, schema)) =
            media.iter().find(|(m, _)| m.eq_ignore_ascii_case(&essence))
        else {
            return Err(vec![format!(
                "content type `{essence}` is not documented for status {status} (documented: {})",
                media.keys().cloned().collect::<Vec<_>>().join(", ")
            )]);
        };
        let Some(schema) = schema else { return Ok(()) };
        let instance = parse_instance(media_type, body).map_err(|e| vec![e.to_string()])?;
        let validator = self.compile(schema).map_err(|e| vec![e.to_string()])?;
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at `{}`", e, e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The media type of a Content-Type header without its parameters, lower-cased
/// (`application/json; charset=utf-8` -> `application/json`); empty when there is none. The one
/// parser the validation and the matchers share.
pub fn media_type_essence(content_type: Option<&str>) -> String {
    content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Parses a body for schema validation: JSON for JSON media types; for text/plain, a JSON scalar
/// when the text is one (the documents use number schemas under text/plain), else a string.
pub fn parse_instance(media_type: &str, body: &[u8]) -> Result<Value, SpecError> {
    let text =
        std::str::from_utf8(body).map_err(|_| SpecError::Body("body is not UTF-8".into()))?;
    if media_type.contains("json") {
        serde_json::from_str(text).map_err(|e| SpecError::Body(format!("body is not JSON: {e}")))
    } else {
        Ok(serde_json::from_str::<Value>(text.trim())
            .ok()
            .filter(|v| !v.is_object() && !v.is_array())
            .unwrap_or_else(|| Value::String(text.to_owned())))
    }
}

/// Inlines local `$ref`s (`#/...`), guarding against cycles by depth.
pub fn resolve(doc: &Value, value: &Value, depth: usize) -> Result<Value, SpecError> {
    if depth > MAX_REF_DEPTH {
        return Err(SpecError::Reference(
            "`$ref` nesting too deep (cycle?)".into(),
        ));
    }
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                let pointer = reference.strip_prefix('#').ok_or_else(|| {
                    SpecError::Reference(format!("only local `$ref`s are supported: `{reference}`"))
                })?;
                let target = doc.pointer(pointer).ok_or_else(|| {
                    SpecError::Reference(format!("unresolved `$ref`: `{reference}`"))
                })?;
                let mut resolved = resolve(doc, target, depth + 1)?;
                // 3.1 allows siblings next to $ref; keep them.
                if let Value::Object(out) = &mut resolved {
                    for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "$ref") {
                        out.insert(k.clone(), resolve(doc, v, depth + 1)?);
                    }
                }
                return Ok(resolved);
            }
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), resolve(doc, v, depth + 1)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|v| resolve(doc, v, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Adds the value range of OpenAPI's integer formats (`int32`, `int64`) as `minimum`/`maximum`
/// where the schema sets no tighter bound of its own.
fn bound_integer_formats(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "enum" | "const" | "default" | "examples" | "example" | "required" => {
                            v.clone()
                        }
                        _ => bound_integer_formats(v),
                    };
                    (k.clone(), v)
                })
                .collect();
            let range = match map.get("format").and_then(Value::as_str) {
                Some("int32") => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
                Some("int64") => Some((i64::MIN, i64::MAX)),
                _ => None,
            };
            if let Some((min, max)) = range {
                out.entry("minimum").or_insert(Value::from(min));
                out.entry("maximum").or_insert(Value::from(max));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(bound_integer_formats).collect()),
        other => other.clone(),
    }
}

/// Translates OpenAPI 3.0 schema extensions into Draft 4: `nullable: true` widens `type`.
fn translate_oas30(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                match k.as_str() {
                    "nullable" | "example" | "discriminator" | "xml" | "externalDocs"
                    | "deprecated" | "readOnly" | "writeOnly" => {}
                    _ => {
                        out.insert(k.clone(), translate_oas30(v));
                    }
                }
            }
            if map.get("nullable").and_then(Value::as_bool) == Some(true) {
                if let Some(Value::String(t)) = map.get("type") {
                    out.insert(
                        "type".into(),
                        Value::Array(vec![Value::String(t.clone()), Value::String("null".into())]),
                    );
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(translate_oas30).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_spec_loads_the_eight_operations_a_run_calls() {
        let spec = ApiSpec::core_spec();
        assert_eq!(spec.version, "v1.0-beta.3");
        let ids: Vec<&str> = spec.operations.keys().map(String::as_str).collect();
        assert_eq!(
            ids,
            [
                "Registered_deleteEncryptedPKM",
                "Registered_deleteSession",
                "Registered_encryptedPKMsizeLimit",
                "Registered_getEncryptedPKM",
                "Registered_newIdCert",
                "Registered_uploadEncryptedPKM",
                "Unregistered_actorCerts",
                "Unregistered_serverIdCert",
            ]
        );
        let good = br#"[{"key_data": "MDo=", "serialNumber": 7, "encryptionAlgorithms": ["x"]}]"#;
        let json = Some("application/json");
        assert!(spec
            .check_response("Registered_getEncryptedPKM", 200, json, good)
            .is_ok());
        let bad = br#"[{"key_data": "MDo=", "serialNumber": "7", "encryptionAlgorithms": []}]"#;
        assert!(spec
            .check_response("Registered_getEncryptedPKM", 200, json, bad)
            .is_err());
        assert!(spec
            .check_response("Registered_uploadEncryptedPKM", 201, None, b"")
            .is_ok());
    }

    #[test]
    fn default_spec_loads_all_ten_operations() {
        let spec = ApiSpec::default_spec();
        assert_eq!(spec.dialect, Dialect::Oas31);
        assert_eq!(spec.operations.len(), 10);
        assert!(spec.operations.values().all(|o| o.secured));
    }

    #[test]
    fn malformed_documents_get_clear_errors() {
        let err = ApiSpec::parse("openapi: [", "bad.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.yaml"), "{err}");
        let err = ApiSpec::parse(
            "openapi: 2.0.0\ninfo: {title: x, version: '1'}\npaths: {}",
            "v2.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unsupported OpenAPI version"), "{err}");
        let dangling = "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Nope'}\n";
        let err = ApiSpec::parse(dangling, "d.yaml").unwrap_err().to_string();
        assert!(err.contains("unresolved"), "{err}");
    }

    #[test]
    fn responses_are_validated_against_schemas() {
        let spec = ApiSpec::default_spec();
        let good = br#"{"id":"g","epoch":0,"members":[],"publicKey":"AA=="}"#;
        assert!(spec
            .check_response("groups_getGroup", 200, Some("application/json"), good)
            .is_ok());
        let bad = br#"{"id":"g","epoch":"zero","members":[],"publicKey":"AA=="}"#;
        assert!(spec
            .check_response("groups_getGroup", 200, Some("application/json"), bad)
            .is_err());
        assert!(spec
            .check_response("groups_getGroup", 418, Some("application/json"), good)
            .is_err());
        assert!(spec
            .check_response(
                "keypackages_addKeyPackages",
                200,
                Some("text/plain"),
                b"200"
            )
            .is_ok());
        assert!(spec
            .check_response(
                "keypackages_addKeyPackages",
                200,
                Some("text/plain"),
                b"201"
            )
            .is_err());
    }

    #[test]
    fn integer_formats_are_bounded() {
        let spec = ApiSpec::default_spec();
        let big = br#"{"id":"g","epoch":2147483648,"members":[],"publicKey":"AA=="}"#;
        assert!(spec
            .check_response("groups_getGroup", 200, Some("application/json"), big)
            .is_err());
        let schema = serde_json::json!({"type": "integer", "format": "int32", "minimum": 0});
        assert_eq!(
            bound_integer_formats(&schema),
            serde_json::json!({"type": "integer", "format": "int32", "minimum": 0, "maximum": 2147483647})
        );
    }

    #[test]
    fn oas30_nullable_is_translated() {
        let schema = serde_json::json!({"type": "string", "nullable": true});
        assert_eq!(
            translate_oas30(&schema),
            serde_json::json!({"type": ["string", "null"]})
        );
    }
}
