//! Attribution for `p2mls run`: is a response that fails validation explained by a schema defect
//! that lint flags? Then the document is at fault, not the server, and the run records a spec
//! finding instead of failing the check.
//!
//! Two defects are recognised, each by repairing it and asking again:
//! - `P2L-HTTP-001`: the status is only listed as a body value of another response (a real 413
//!   where the document has `text/plain` `413` under 200), or the status's documented bodies are
//!   all such status-code enums;
//! - `P2L-PP-004`: the body validates once the narrowed `epoch` fields are widened to uint64.
//!
//! Anything else stays a server failure.

use serde::Serialize;
use serde_json::{json, Map, Value};

use p2mls_openapi::schema::{narrower_than_u64, status_codes};
use p2mls_openapi::{media_type_essence, parse_instance, ApiSpec};

/// The lint rules whose defects explain a failure, by id (the lint crate's catalogue holds them;
/// a test below keeps the ids in step with it).
const STATUS_AS_BODY: &str = "P2L-HTTP-001";
const EPOCH_WIDTH: &str = "P2L-PP-004";

/// A schema defect that explains a validation failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecDefect {
    /// The lint rule that flags the defect.
    pub rule: &'static str,
    pub explanation: String,
}

impl SpecDefect {
    fn new(rule: &'static str, explanation: String) -> Self {
        Self { rule, explanation }
    }
}

/// Whether a known defect of `spec` explains why this response of `operation` does not conform.
/// Call it only for responses that failed `ApiSpec::check_response`.
pub fn explain(
    spec: &ApiSpec,
    operation: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<SpecDefect> {
    let op = spec.operation(operation)?;
    let Some(documented) = op.response_for(status) else {
        // An undocumented status the document lists as a body value somewhere.
        return op.responses.iter().find_map(|(listed_under, media)| {
            media.iter().find_map(|(media_type, schema)| {
                let codes = status_codes(
                    &Value::Null,
                    schema.as_ref()?,
                    media_type.starts_with("text/"),
                )?;
                codes.contains(&status).then(|| {
                    SpecDefect::new(
                        STATUS_AS_BODY,
                        format!(
                            "{operation} documents {status} only as a {media_type} body value of \
                             its {listed_under} response, so a real {status} cannot match"
                        ),
                    )
                })
            })
        });
    };
    let enums: Vec<(&String, Vec<u16>)> = documented
        .iter()
        .filter_map(|(m, s)| {
            Some((
                m,
                status_codes(&Value::Null, s.as_ref()?, m.starts_with("text/"))?,
            ))
        })
        .collect();
    // The body is meaningless under such a schema, but the media type is still the document's:
    // a body of an undocumented media type stays the server's failure.
    let essence = media_type_essence(content_type);
    let media_documented = documented.keys().any(|m| m.eq_ignore_ascii_case(&essence));
    if !documented.is_empty() && enums.len() == documented.len() && media_documented {
        let listed: Vec<String> = enums
            .iter()
            .map(|(m, codes)| {
                let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
                format!("{m} {}", codes.join("/"))
            })
            .collect();
        return Some(SpecDefect::new(
            STATUS_AS_BODY,
            format!(
                "the {status} response of {operation} documents only status codes as bodies ({})",
                listed.join(", ")
            ),
        ));
    }
    epoch_overflow(spec, documented, operation, content_type, body)
}

/// The body validates once every narrowed epoch is widened to uint64.
fn epoch_overflow(
    spec: &ApiSpec,
    documented: &std::collections::BTreeMap<String, Option<Value>>,
    operation: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<SpecDefect> {
    content_type?;
    let essence = media_type_essence(content_type);
    let (media_type, schema) = documented
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(&essence))?;
    let schema = schema.as_ref()?;
    let mut widened = Vec::new();
    let repaired = widen_epochs(schema, &mut widened);
    if widened.is_empty() {
        return None;
    }
    let instance = parse_instance(media_type, body).ok()?;
    let validator = spec.compile(&repaired).ok()?;
    validator.is_valid(&instance).then(|| {
        SpecDefect::new(
            EPOCH_WIDTH,
            format!(
                "the response of {operation} is valid once {} {} uint64 as RFC 9420 says; the \
                 document narrows them",
                widened.join(", "),
                if widened.len() == 1 { "is" } else { "are" }
            ),
        )
    })
}

/// `schema` with every narrowed `*epoch` property replaced by a uint64 integer; the replaced
/// names go to `widened`.
fn widen_epochs(schema: &Value, widened: &mut Vec<String>) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let v = if k == "properties" {
                    let mut props = Map::new();
                    for (name, prop) in v.as_object().into_iter().flatten() {
                        let prop = if name.to_ascii_lowercase().ends_with("epoch")
                            && narrower_than_u64(prop).is_some()
                        {
                            if !widened.contains(name) {
                                widened.push(name.clone());
                            }
                            json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})
                        } else {
                            widen_epochs(prop, widened)
                        };
                        props.insert(name.clone(), prop);
                    }
                    Value::Object(props)
                } else if matches!(k.as_str(), "enum" | "const" | "default" | "examples") {
                    v.clone()
                } else {
                    widen_epochs(v, widened)
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| widen_epochs(v, widened)).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_ids_are_lint_rules() {
        for id in [STATUS_AS_BODY, EPOCH_WIDTH] {
            assert!(
                p2mls_lint::RULES.iter().any(|rule| rule.id == id),
                "{id} is not in p2mls-lint's catalogue"
            );
        }
    }

    fn spec() -> ApiSpec {
        ApiSpec::default_spec()
    }

    #[test]
    fn a_real_413_is_the_documents_fault() {
        let spec = spec();
        let body = br#"{"error":"too_many"}"#;
        assert!(spec
            .check_response(
                "keypackages_addKeyPackages",
                413,
                Some("application/json"),
                body
            )
            .is_err());
        let defect = explain(
            &spec,
            "keypackages_addKeyPackages",
            413,
            Some("application/json"),
            body,
        )
        .expect("explained");
        assert_eq!(defect.rule, "P2L-HTTP-001");
        assert!(
            defect
                .explanation
                .contains("text/plain body value of its 200"),
            "{defect:?}"
        );
        // A 404 for discovery, listed as a body value under 200.
        assert!(explain(&spec, "keypackages_discoverKeyPackages", 404, None, b"").is_some());
    }

    #[test]
    fn a_sensible_body_under_a_status_enum_is_the_documents_fault() {
        let spec = spec();
        let defect = explain(
            &spec,
            "keypackages_addKeyPackages",
            200,
            Some("text/plain"),
            b"stored",
        )
        .expect("explained");
        assert_eq!(defect.rule, "P2L-HTTP-001");
        // A media type the document never names is not excused by that defect.
        let json = explain(
            &spec,
            "keypackages_addKeyPackages",
            200,
            Some("application/json"),
            br#"{"ok":true}"#,
        );
        assert!(json.is_none(), "{json:?}");
    }

    #[test]
    fn an_epoch_beyond_int32_is_the_documents_fault() {
        let spec = spec();
        let big = br#"{"id":"g","epoch":4294967296,"members":[],"publicKey":"AA=="}"#;
        assert!(spec
            .check_response("groups_getGroup", 200, Some("application/json"), big)
            .is_err());
        let defect = explain(&spec, "groups_getGroup", 200, Some("application/json"), big)
            .expect("explained");
        assert_eq!(defect.rule, "P2L-PP-004");
        assert!(defect.explanation.contains("epoch is uint64"), "{defect:?}");
    }

    #[test]
    fn server_faults_stay_server_faults() {
        let spec = spec();
        // A big epoch and a missing member: widening the epoch does not make it valid.
        let both = br#"{"id":"g","epoch":4294967296,"members":[]}"#;
        assert_eq!(
            explain(
                &spec,
                "groups_getGroup",
                200,
                Some("application/json"),
                both
            ),
            None
        );
        // A negative epoch is wrong in any width.
        let negative = br#"{"id":"g","epoch":-1,"members":[],"publicKey":"AA=="}"#;
        assert_eq!(
            explain(
                &spec,
                "groups_getGroup",
                200,
                Some("application/json"),
                negative
            ),
            None
        );
        // A 500 is nobody's documented body value.
        assert_eq!(explain(&spec, "groups_getGroup", 500, None, b""), None);
        assert_eq!(explain(&spec, "no_such_operation", 200, None, b""), None);
    }

    #[test]
    fn conforms_records_a_spec_finding_instead_of_failing() {
        use crate::checks::Ctx;
        use crate::clients::http::{ApiResponse, Http};

        let http =
            Http::new("http://127.0.0.1:9", std::time::Duration::from_secs(1)).expect("client");
        let mut ctx = Ctx::new(http, spec(), Default::default(), Vec::new());
        let response = |status: u16, body: &[u8]| ApiResponse {
            status,
            content_type: Some("application/json".into()),
            headers: Vec::new(),
            body: body.to_vec(),
        };
        let big = br#"{"id":"g","epoch":4294967296,"members":[],"publicKey":"AA=="}"#;
        assert!(ctx.conforms("groups_getGroup", &response(200, big)).is_ok());
        assert_eq!(ctx.recorder.spec_findings.len(), 1);
        assert_eq!(ctx.recorder.spec_findings[0].rule, "P2L-PP-004");
        assert!(ctx.recorder.spec_findings[0]
            .observed
            .contains("status 200"));
        // A server fault still fails.
        assert!(ctx
            .conforms("groups_getGroup", &response(500, b""))
            .is_err());
        assert_eq!(ctx.recorder.spec_findings.len(), 1);
    }

    #[test]
    fn reports_carry_spec_findings_in_json_and_markdown() {
        use crate::check::{Level, SpecFinding, Verdict};
        use crate::checks::CheckDef;
        use crate::report::{json, markdown, Header, Report};
        use crate::runner::{CheckReport, Gate};

        let finding = SpecFinding {
            check: "keypackages_addKeyPackages.success".into(),
            operation: "keypackages_addKeyPackages".into(),
            status: 413,
            rule: "P2L-HTTP-001".into(),
            explanation: "documented only as a body value".into(),
            observed: "status 413 is not documented".into(),
        };
        let check = CheckReport {
            def: CheckDef::new(finding.check.clone(), Level::Must, "t"),
            verdict: Verdict::Pass,
            reason: String::new(),
            evidence: None,
            spec_findings: vec![finding.clone()],
            trace: None,
            duration: std::time::Duration::ZERO,
            started: std::time::Duration::ZERO,
            rate_limited: Vec::new(),
        };
        let header = Header {
            harness: "p2mls".into(),
            target: "t".into(),
            embedded: true,
            spec_source: "s".into(),
            spec_openapi: "3.1.0".into(),
            spec_version: "v".into(),
            suites: Vec::new(),
            clients: Vec::new(),
            strict: false,
            tls: None,
            insecure_skip_verify: false,
            pacing_per_second: None,
            rate_limit: Default::default(),
        };
        let report = Report::new(header, vec![check], Vec::new(), Gate::default());
        assert_eq!(report.spec_findings, vec![finding]);
        let rendered = json::render(&report, true);
        assert_eq!(rendered["spec_findings"][0]["rule"], "P2L-HTTP-001");
        let md = markdown::render(&report);
        assert!(md.contains("## Spec findings"), "{md}");
        assert!(md.contains("| `keypackages_addKeyPackages.success` | keypackages_addKeyPackages | 413 | `P2L-HTTP-001` |"), "{md}");
    }
}
