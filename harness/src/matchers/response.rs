//! Judging one HTTP answer: its status, the profile's error body, and conformance to the
//! document (with attribution of a mismatch to a document defect). Pure functions over the answer
//! that return a typed mismatch (what was expected, what was observed); the checks turn it into
//! their finding.

use p2mls_openapi::ApiSpec;

use super::attribution::{self, SpecDefect};
use crate::clients::http::ApiResponse;

/// An answer that is not the one expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: String,
    pub observed: String,
}

/// The answer has one of the statuses.
pub fn status(resp: &ApiResponse, expected: &[u16], what: &str) -> Result<(), Mismatch> {
    if expected.contains(&resp.status) {
        return Ok(());
    }
    let list: Vec<String> = expected.iter().map(u16::to_string).collect();
    Err(Mismatch {
        expected: format!("status {} ({what})", list.join(" or ")),
        observed: format!("status {}: {}", resp.status, snippet(&resp.text())),
    })
}

/// The answer is a client error (4xx): a refusal whose status the text leaves open. A 2xx, a
/// 3xx and a 5xx are mismatches.
pub fn client_error(resp: &ApiResponse, what: &str) -> Result<(), Mismatch> {
    if (400..500).contains(&resp.status) {
        return Ok(());
    }
    Err(Mismatch {
        expected: format!("a client error, 4xx ({what})"),
        observed: format!("status {}: {}", resp.status, snippet(&resp.text())),
    })
}

/// The answer has the status and a PROFILE.error-body object `{error, message}` (non-empty
/// strings).
pub fn error_answer(resp: &ApiResponse, expected: u16, what: &str) -> Result<(), Mismatch> {
    status(resp, &[expected], what)?;
    if is_error_body(resp) {
        Ok(())
    } else {
        Err(Mismatch {
            expected: "an error body {error, message} (PROFILE.error-body)".into(),
            observed: snippet(&resp.text()),
        })
    }
}

/// Whether the body is a PROFILE.error-body object.
pub fn is_error_body(resp: &ApiResponse) -> bool {
    let body = resp.json().unwrap_or_default();
    let named = |k: &str| body[k].as_str().is_some_and(|v| !v.is_empty());
    named("error") && named("message")
}

/// How an answer stands against the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conformance {
    /// A documented status with a body its schema accepts.
    Conforms,
    /// It does not conform, but a defect of the document explains why: the document is at fault,
    /// not the server.
    ExplainedByDocument {
        defect: SpecDefect,
        observed: String,
    },
    /// It does not conform: the server's failure.
    Mismatch(Mismatch),
}

/// Judges an answer of `op` against the document: status documented, body valid under the
/// documented schema for its media type, and otherwise whether a document defect explains it.
pub fn conformance(spec: &ApiSpec, op: &str, resp: &ApiResponse) -> Conformance {
    let content_type = resp.content_type.as_deref();
    let Err(errors) = spec.check_response(op, resp.status, content_type, &resp.body) else {
        return Conformance::Conforms;
    };
    let observed = format!("status {}: {}", resp.status, errors.join("; "));
    match attribution::explain(spec, op, resp.status, content_type, &resp.body) {
        Some(defect) => Conformance::ExplainedByDocument { defect, observed },
        None => Conformance::Mismatch(Mismatch {
            expected: format!("a response documented for {op}"),
            observed,
        }),
    }
}

/// The first characters of a body for a mismatch line.
pub fn snippet(text: &str) -> String {
    let mut out: String = text.chars().take(200).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_type: &str, body: &str) -> ApiResponse {
        ApiResponse {
            status,
            headers: Vec::new(),
            content_type: Some(content_type.into()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_status_outside_the_list_is_a_mismatch_naming_both() {
        let resp = answer(500, "text/plain", "boom");
        assert_eq!(
            status(&resp, &[200, 201], "created"),
            Err(Mismatch {
                expected: "status 200 or 201 (created)".into(),
                observed: "status 500: boom".into(),
            })
        );
        assert_eq!(status(&resp, &[500], "x"), Ok(()));
    }

    #[test]
    fn an_error_answer_needs_both_members_as_non_empty_strings() {
        let good = answer(
            400,
            "application/json",
            r#"{"error":"BAD","message":"why"}"#,
        );
        assert_eq!(error_answer(&good, 400, "refused"), Ok(()));
        for body in [
            r#"{"error":"BAD"}"#,
            r#"{"error":"","message":"m"}"#,
            "not json",
        ] {
            let bad = answer(400, "application/json", body);
            assert!(error_answer(&bad, 400, "refused").is_err(), "{body}");
        }
        let wrong_status = answer(404, "application/json", r#"{"error":"BAD","message":"m"}"#);
        assert!(error_answer(&wrong_status, 400, "refused").is_err());
    }

    #[test]
    fn a_text_plain_404_does_not_conform_to_an_operation_that_documents_json() {
        let spec = ApiSpec::default_spec();
        let resp = answer(404, "text/plain", "Not Found");
        assert!(matches!(
            conformance(&spec, "groups_getGroup", &resp),
            Conformance::Mismatch(_)
        ));
    }
}
