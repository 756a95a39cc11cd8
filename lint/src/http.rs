//! HTTP semantics rules (RFC 9110): statuses are responses, not body values; secured operations
//! document 401; GET carries no body; operations taking a body document 400; 204 has no body;
//! a response's description speaks of its own status.

use serde_json::Value;

use super::source::child;
use super::{operations, Document, Finding, Rule, Severity};
pub use p2mls_openapi::schema::status_codes;

pub const STATUS_AS_BODY: Rule = Rule {
    id: "P2L-HTTP-001",
    name: "status-code-as-body",
    severity: Severity::Error,
    summary: "A response body schema enumerates HTTP status codes (e.g. a text/plain number enum \
              of 413 under 200) instead of documenting them as responses.",
    rationale: "Read literally, the server answers failures with a 200 whose body is a number: \
                clients cannot tell success from failure by status, and a server that answers \
                with the real status breaks the document. polyproto.mls alpha.4 does this in \
                addKeyPackages (200, 413) and discoverKeyPackages (404, 204).",
};

pub const SECURED_WITHOUT_401: Rule = Rule {
    id: "P2L-HTTP-002",
    name: "secured-without-401",
    severity: Severity::Warning,
    summary: "An operation requires credentials but documents no 401 response.",
    rationale: "RFC 9110 §15.5.2: a request without valid credentials gets 401 with \
                WWW-Authenticate. Without it in the document, clients have no documented way to \
                learn that their token expired, and validators flag the server's correct 401.",
};

pub const GET_WITH_BODY: Rule = Rule {
    id: "P2L-HTTP-003",
    name: "get-with-body",
    severity: Severity::Error,
    summary: "A GET or HEAD operation declares a request body.",
    rationale: "RFC 9110 §9.3.1: content in a GET request has no defined semantics; proxies and \
                HTTP libraries drop it or refuse the request. Use query parameters or POST.",
};

pub const BODY_WITHOUT_400: Rule = Rule {
    id: "P2L-HTTP-004",
    name: "body-without-400",
    severity: Severity::Warning,
    summary: "An operation takes a request body but documents no 400 response.",
    rationale: "Every body can be malformed. Without a documented 400 (and error body) servers \
                invent their own answer, often a 5xx, and clients cannot tell their mistake \
                from a server fault.",
};

pub const NO_CONTENT_WITH_BODY: Rule = Rule {
    id: "P2L-HTTP-005",
    name: "no-content-with-body",
    severity: Severity::Error,
    summary: "A 1xx, 204 or 304 response declares content.",
    rationale: "RFC 9110 §15.3.5, §15.4.5: these responses end at the header section; a body \
                schema for them can never be met.",
};

pub const DESCRIPTION_STATUS: Rule = Rule {
    id: "P2L-HTTP-006",
    name: "description-status-mismatch",
    severity: Severity::Warning,
    summary: "A response's description names other status codes but not its own (e.g. a 401 \
              described as \"`204`: Action executed\").",
    rationale: "Copy-pasted descriptions tell readers the wrong outcome; the description is \
                often all a status has.",
};

pub const IMPLICIT_NO_SECURITY: Rule = Rule {
    id: "P2L-HTTP-007",
    name: "implicit-no-security",
    severity: Severity::Info,
    summary: "An operation has no security requirement, and does not say so explicitly \
              (`security: []` or an empty requirement `{}`).",
    rationale: "Readers cannot tell a public operation from one whose security was forgotten \
                (polyproto.mls alpha.2 has no security at all; alpha.4 added BearerAuth).",
};

pub const MISSING_NOT_FOUND: Rule = Rule {
    id: "P2L-HTTP-008",
    name: "path-parameter-without-404",
    severity: Severity::Warning,
    summary: "An operation addresses something by a path parameter but documents no 404 (or \
              410, 4XX, default) for a missing one; a POST or PUT that documents 409 (it \
              creates under a new id) is exempt.",
    rationale: "Whoever calls it with an id that names nothing gets an answer the document does \
                not list, with or without credentials (polyproto.core beta.3: \
                `GET /idcert/actor/{fid}` says the actor must be registered, and has no answer \
                for one that is not).",
};

pub fn check(doc: &Document, out: &mut Vec<Finding>) {
    for op in operations(doc) {
        let explicit = op
            .value
            .get("security")
            .or_else(|| doc.value.get("security"));
        if explicit.is_none() {
            out.push(Finding::at(
                &IMPLICIT_NO_SECURITY,
                doc,
                &op.pointer,
                format!(
                    "{} states no security requirement: public, or forgotten?",
                    op.label
                ),
            ));
        }
        for (pointer, status, response) in op.responses(doc) {
            status_as_body(doc, &op.label, &pointer, status, response, out);
            no_content_with_body(doc, &op.label, &pointer, status, response, out);
            description_status(doc, &op.label, &pointer, status, response, out);
        }
        let responses = format!("{}/responses", op.pointer);
        if op.secured(doc) && !op.documents(401) {
            out.push(Finding::at(
                &SECURED_WITHOUT_401,
                doc,
                &responses,
                format!(
                    "{} requires credentials but documents no 401 response",
                    op.label
                ),
            ));
        }
        if op.has_body() && matches!(op.method, "get" | "head") {
            out.push(Finding::at(
                &GET_WITH_BODY,
                doc,
                &format!("{}/requestBody", op.pointer),
                format!(
                    "{} is a {} with a request body",
                    op.label,
                    op.method.to_uppercase()
                ),
            ));
        }
        if op.path.contains('{')
            && !op.documents(404)
            && !op.documents(410)
            && !op.creates_under_new_id()
        {
            out.push(Finding::at(
                &MISSING_NOT_FOUND,
                doc,
                &responses,
                format!(
                    "{} addresses a resource by path parameter but documents no 404 for a \
                     missing one",
                    op.label
                ),
            ));
        }
        if op.has_body() && !op.documents(400) {
            out.push(Finding::at(
                &BODY_WITHOUT_400,
                doc,
                &responses,
                format!(
                    "{} takes a request body but documents no 400 response",
                    op.label
                ),
            ));
        }
    }
}

fn status_as_body(
    doc: &Document,
    label: &str,
    pointer: &str,
    status: &str,
    response: &Value,
    out: &mut Vec<Finding>,
) {
    for (media, body) in response
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(schema) = body.get("schema") else {
            continue;
        };
        let text = media.starts_with("text/");
        if let Some(codes) = status_codes(&doc.value, schema, text) {
            let list: Vec<String> = codes.iter().map(u16::to_string).collect();
            out.push(Finding::at(
                &STATUS_AS_BODY,
                doc,
                &format!("{}/schema", child(&child(pointer, "content"), media)),
                format!(
                    "the {status} response of {label} gives HTTP status codes ({}) as {media} \
                     body values; document each status as a response of its own",
                    list.join(", ")
                ),
            ));
        }
    }
}

fn no_content_with_body(
    doc: &Document,
    label: &str,
    pointer: &str,
    status: &str,
    response: &Value,
    out: &mut Vec<Finding>,
) {
    let bodiless = status == "204" || status == "304" || status.starts_with('1');
    let has_content = response
        .get("content")
        .and_then(Value::as_object)
        .is_some_and(|c| !c.is_empty());
    if bodiless && has_content {
        out.push(Finding::at(
            &NO_CONTENT_WITH_BODY,
            doc,
            &child(pointer, "content"),
            format!(
                "the {status} response of {label} declares content, which {status} cannot carry"
            ),
        ));
    }
}

/// Three-digit status codes written in backticks or as list items in `text`.
fn mentioned_statuses(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for part in text.split('`').skip(1).step_by(2) {
        let part = part.trim();
        if part.len() == 3
            && part.chars().all(|c| c.is_ascii_digit())
            && ('1'..='5').contains(&part.chars().next().unwrap_or('0'))
        {
            found.push(part.to_owned());
        }
    }
    found
}

fn description_status(
    doc: &Document,
    label: &str,
    pointer: &str,
    status: &str,
    response: &Value,
    out: &mut Vec<Finding>,
) {
    if status.parse::<u16>().is_err() {
        return;
    }
    let Some(description) = response.get("description").and_then(Value::as_str) else {
        return;
    };
    let mentioned = mentioned_statuses(description);
    if !mentioned.is_empty() && !mentioned.iter().any(|m| m == status) {
        out.push(Finding::at(
            &DESCRIPTION_STATUS,
            doc,
            &child(pointer, "description"),
            format!(
                "the {status} response of {label} is described in terms of {}",
                mentioned.join(", ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::findings;

    fn doc(op: &str) -> String {
        format!(
            "openapi: 3.1.0\ninfo: {{title: t, version: '1'}}\npaths:\n  /.p2/x/v1/a:\n{op}components:\n  securitySchemes:\n    BearerAuth: {{type: http, scheme: bearer}}\n"
        )
    }

    #[test]
    fn status_as_body_fires_and_stays_silent() {
        let bad = doc("    post:\n      operationId: a_addThings\n      responses:\n        '200':\n          description: ok\n          content:\n            text/plain:\n              schema:\n                anyOf:\n                  - {type: number, enum: [200]}\n                  - {type: number, enum: [413]}\n");
        let f = findings(&bad, STATUS_AS_BODY.id);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("200, 413"), "{}", f[0].message);
        assert_eq!(f[0].line, 12);
        let good = doc("    post:\n      operationId: a_addThings\n      responses:\n        '204': {description: stored}\n        '413': {description: too many}\n");
        assert!(findings(&good, STATUS_AS_BODY.id).is_empty());
        // An ordinary numeric enum is no status code.
        let counts = doc("    get:\n      operationId: a_getCount\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {type: integer, enum: [1, 2, 3]}\n");
        assert!(findings(&counts, STATUS_AS_BODY.id).is_empty());
    }

    #[test]
    fn secured_without_401_fires_and_stays_silent() {
        let bad = doc("    get:\n      operationId: a_getThing\n      security: [{BearerAuth: []}]\n      responses:\n        '200': {description: ok}\n");
        assert_eq!(findings(&bad, SECURED_WITHOUT_401.id).len(), 1);
        let good = bad.replace(
            "'200': {description: ok}",
            "'200': {description: ok}\n        '401': {description: no}",
        );
        assert!(findings(&good, SECURED_WITHOUT_401.id).is_empty());
        // Optional security (`{}`) needs no 401.
        let optional = bad.replace("[{BearerAuth: []}]", "[{BearerAuth: []}, {}]");
        assert!(findings(&optional, SECURED_WITHOUT_401.id).is_empty());
        // Document-level security counts.
        let global = format!(
            "{}security: [{{BearerAuth: []}}]\n",
            bad.replace("      security: [{BearerAuth: []}]\n", "")
        );
        assert_eq!(findings(&global, SECURED_WITHOUT_401.id).len(), 1);
    }

    #[test]
    fn get_with_body_fires_and_stays_silent() {
        let bad = doc("    get:\n      operationId: a_getThing\n      requestBody:\n        content:\n          application/json: {schema: {type: object}}\n      responses:\n        '200': {description: ok}\n        '400': {description: bad}\n");
        assert_eq!(findings(&bad, GET_WITH_BODY.id).len(), 1);
        let good = bad.replace("    get:", "    post:");
        assert!(findings(&good, GET_WITH_BODY.id).is_empty());
    }

    #[test]
    fn body_without_400_fires_and_stays_silent() {
        let bad = doc("    post:\n      operationId: a_addThing\n      requestBody:\n        content:\n          application/json: {schema: {type: object}}\n      responses:\n        '204': {description: ok}\n");
        assert_eq!(findings(&bad, BODY_WITHOUT_400.id).len(), 1);
        let good = bad.replace(
            "'204': {description: ok}",
            "'204': {description: ok}\n        4XX: {description: bad}",
        );
        assert!(findings(&good, BODY_WITHOUT_400.id).is_empty());
    }

    #[test]
    fn no_content_with_body_fires_and_stays_silent() {
        let bad = doc("    get:\n      operationId: a_getThing\n      responses:\n        '204':\n          description: none\n          content:\n            application/json: {schema: {type: object}}\n");
        assert_eq!(findings(&bad, NO_CONTENT_WITH_BODY.id).len(), 1);
        let good = doc("    get:\n      operationId: a_getThing\n      responses:\n        '204': {description: none}\n");
        assert!(findings(&good, NO_CONTENT_WITH_BODY.id).is_empty());
    }

    #[test]
    fn implicit_no_security_fires_and_stays_silent() {
        let bad = doc("    get:\n      operationId: a_getThing\n      responses:\n        '200': {description: ok}\n");
        assert_eq!(findings(&bad, IMPLICIT_NO_SECURITY.id).len(), 1);
        for security in ["[]", "[{}]", "[{BearerAuth: []}]"] {
            let good = bad.replace(
                "      responses:",
                &format!("      security: {security}\n      responses:"),
            );
            assert!(
                findings(&good, IMPLICIT_NO_SECURITY.id).is_empty(),
                "{security}"
            );
        }
    }

    #[test]
    fn missing_not_found_fires_and_stays_silent() {
        let op = |method: &str, security: &str, extra: &str| {
            format!("  /.p2/x/v1/a/{{id}}:\n    {method}:\n      operationId: a_{method}Thing\n      security: {security}\n      responses:\n        '200': {{description: ok}}\n{extra}")
        };
        let p = "/paths/~1.p2~1x~1v1~1a~1{id}";
        // With or without credentials.
        for security in ["[]", "[{BearerAuth: []}]", "[{BearerAuth: []}, {}]"] {
            let f = findings(&doc(&op("get", security, "")), MISSING_NOT_FOUND.id);
            assert_eq!(f.len(), 1, "{security}: {f:?}");
            assert_eq!(f[0].pointer, format!("{p}/get/responses"));
        }
        for extra in [
            "        '404': {description: gone}\n",
            "        '410': {description: gone}\n",
            "        4XX: {description: client error}\n",
        ] {
            assert!(findings(&doc(&op("get", "[]", extra)), MISSING_NOT_FOUND.id).is_empty());
        }
        // Creating under a new id: 409 for a taken one, a missing one is the normal case.
        let create = op(
            "post",
            "[{BearerAuth: []}]",
            "        '409': {description: taken}\n",
        );
        assert!(findings(&doc(&create), MISSING_NOT_FOUND.id).is_empty());
        // A GET with 409 is no creation.
        let get409 = op("get", "[]", "        '409': {description: conflict}\n");
        assert_eq!(findings(&doc(&get409), MISSING_NOT_FOUND.id).len(), 1);
        // No path parameter, nothing to be missing.
        let plain = op("get", "[]", "").replace("/a/{id}", "/a");
        assert!(findings(&doc(&plain), MISSING_NOT_FOUND.id).is_empty());
    }

    #[test]
    fn description_status_fires_and_stays_silent() {
        let bad = doc("    delete:\n      operationId: a_deleteThing\n      responses:\n        '204': {description: '- `204`: Action executed'}\n        '401': {description: '- `204`: Action executed'}\n");
        let f = findings(&bad, DESCRIPTION_STATUS.id);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].pointer.contains("/401/"));
        let good = bad.replace(
            "'401': {description: '- `204`: Action executed'}",
            "'401': {description: '`401`: no valid token'}",
        );
        assert!(findings(&good, DESCRIPTION_STATUS.id).is_empty());
    }
}
