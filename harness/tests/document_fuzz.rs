//! The document as a fuzzer (issue 14): for every operation of our OpenAPI document, requests
//! with bodies generated from the operation's own request schema (schema-valid) and with those
//! bodies broken (a required member dropped, a member of the wrong type), with valid and
//! arbitrary path parameters and query strings, sent with a valid session token to the reference
//! server over loopback HTTP. Every answer must be below 500; its status must be documented for
//! the operation or one the profile adds (400, 401, 404, 409, 413, and 204 for an empty
//! discovery); a documented answer must match the document's schema, and any other 4xx must
//! carry PROFILE.error-body (KeyPackage upload's 400: the documented array).
//!
//! This turns the third-party fuzzer run of issue 14 (about 9,000 requests over the published
//! documents) into a test of ours, with schemas read from the document, not from our structs.

use std::sync::OnceLock;

use p2mls::clients::actors::{register, Actor};
use p2mls::clients::http::Http;
use p2mls::spec::{ApiSpec, Operation};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

const SECRET: &str = "document-fuzz-secret";

struct World {
    rt: tokio::runtime::Runtime,
    base: String,
    actor: Actor,
    group_id: String,
    spec: ApiSpec,
    client: reqwest::Client,
    _server: p2mls_reference_server::RunningServer,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let (server, actor, group_id) = rt.block_on(async {
            let config = p2mls_reference_server::Config::ephemeral(SECRET);
            let server = p2mls_reference_server::spawn(config)
                .await
                .expect("server starts");
            let http = Http::new(&server.url(), std::time::Duration::from_secs(10)).expect("http");
            let actor = register(&http, SECRET, "alice", "f022f022")
                .await
                .expect("registers");
            let bytes = actor
                .mls
                .key_package(
                    openmls::prelude::Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
                    &p2mls::clients::mls::KeyPackageOptions::default(),
                )
                .expect("key package");
            let kp = p2mls::clients::mls::key_package_json(
                &bytes,
                &p2mls_protocol::suites::SuiteRegistry::default(),
            )
            .expect("json");
            let created: Value = reqwest::Client::new()
                .post(format!("{}/.p2/mls/v1/groups", server.url()))
                .bearer_auth(&actor.token)
                .json(&kp)
                .send()
                .await
                .expect("create group")
                .json()
                .await
                .expect("group json");
            let group_id = created["id"].as_str().expect("group id").to_owned();
            (server, actor, group_id)
        });
        World {
            rt,
            base: server.url(),
            actor,
            group_id,
            spec: ApiSpec::default_spec(),
            client: reqwest::Client::new(),
            _server: server,
        }
    })
}

/// Values that fit `schema` (the subset of JSON Schema our document uses: type, properties,
/// required, items, enum, min/max length and items, minimum/maximum). Optional members are
/// included or left out at random.
fn valid(schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    if let Some(parts) = schema["allOf"].as_array() {
        // Merge the parts (our document uses allOf to attach a description to a reference).
        let mut merged = schema.clone();
        if let Some(map) = merged.as_object_mut() {
            map.remove("allOf");
            for part in parts.iter().filter_map(Value::as_object) {
                for (k, v) in part {
                    map.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        return valid(&merged, depth);
    }
    if let Some(options) = schema["enum"].as_array().filter(|o| !o.is_empty()) {
        return proptest::sample::select(options.clone()).boxed();
    }
    if let Some(first) = ["oneOf", "anyOf"]
        .iter()
        .find_map(|k| schema[*k].as_array().and_then(|a| a.first()))
    {
        return valid(first, depth).boxed();
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_owned(),
        _ if schema["properties"].is_object() => "object".into(),
        _ => "string".into(),
    };
    match kind.as_str() {
        "object" if depth < 4 => {
            let required: Vec<String> = schema["required"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let members: Vec<BoxedStrategy<Option<(String, Value)>>> = schema["properties"]
                .as_object()
                .map(|p| {
                    p.iter()
                        .map(|(name, sub)| {
                            let name = name.clone();
                            let value = valid(sub, depth + 1);
                            if required.contains(&name) {
                                value.prop_map(move |v| Some((name.clone(), v))).boxed()
                            } else {
                                proptest::option::of(value.prop_map(move |v| (name.clone(), v)))
                                    .boxed()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            members
                .prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect()))
                .boxed()
        }
        "object" => Just(json!({})).boxed(),
        "array" => {
            let min = schema["minItems"].as_u64().unwrap_or(0) as usize;
            let max = schema["maxItems"].as_u64().unwrap_or(3).min(min as u64 + 3) as usize;
            prop::collection::vec(valid(&schema["items"], depth + 1), min..=max)
                .prop_map(Value::Array)
                .boxed()
        }
        "integer" => {
            let lo = schema["minimum"].as_i64().unwrap_or(0);
            let hi = schema["maximum"].as_i64().unwrap_or(i64::from(i32::MAX));
            (lo..=hi).prop_map(Value::from).boxed()
        }
        "number" => (0.0f64..1e6).prop_map(Value::from).boxed(),
        "boolean" => any::<bool>().prop_map(Value::from).boxed(),
        "null" => Just(Value::Null).boxed(),
        _ => {
            let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
            let max = schema["maxLength"]
                .as_u64()
                .unwrap_or(40)
                .min(min as u64 + 40) as usize;
            prop::collection::vec(
                proptest::sample::select("abcdefXYZ0123456789+/=-_.@%".chars().collect::<Vec<_>>()),
                min..=max,
            )
            .prop_map(|c| Value::from(c.into_iter().collect::<String>()))
            .boxed()
        }
    }
}

/// A schema-valid value broken once: a member dropped or replaced by a value of another type.
fn broken(schema: &Value) -> BoxedStrategy<Value> {
    (
        valid(schema, 0),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(mut value, index, drop)| {
            match &mut value {
                Value::Object(map) if !map.is_empty() => {
                    let key = map
                        .keys()
                        .nth(index.index(map.len()))
                        .cloned()
                        .unwrap_or_default();
                    if drop {
                        map.remove(&key);
                    } else {
                        let wrong = if map[&key].is_number() {
                            json!("7")
                        } else {
                            json!(7)
                        };
                        map.insert(key, wrong);
                    }
                }
                Value::Array(items) if !items.is_empty() => {
                    let i = index.index(items.len());
                    items[i] = json!(42);
                }
                other => *other = json!({ "unexpected": true }),
            }
            value
        })
        .boxed()
}

/// One request: path parameters (real or arbitrary), a query string and a body.
#[derive(Debug, Clone)]
struct Case {
    operation: String,
    real_params: bool,
    arbitrary: String,
    query: String,
    body: Option<Value>,
}

fn arb_case() -> impl Strategy<Value = Case> {
    let spec = &world().spec;
    let cases: Vec<BoxedStrategy<Case>> = spec
        .operations
        .values()
        .map(|op: &Operation| {
            let id = op.id.clone();
            let schema = op
                .request_body
                .get("application/json")
                .cloned()
                .unwrap_or(Value::Null);
            let body: BoxedStrategy<Option<Value>> = if op.request_body.is_empty() {
                Just(None).boxed()
            } else {
                prop_oneof![
                    valid(&schema, 0).prop_map(Some),
                    broken(&schema).prop_map(Some),
                ]
                .boxed()
            };
            let query = prop_oneof![
                Just("ciphersuites=0x0001".to_owned()),
                Just("ciphersuites=0x0001,0xF110&versions=1.0&extensions=0x000A".to_owned()),
                "[a-z]{1,8}=[a-zA-Z0-9,x%]{0,12}",
                Just(String::new()),
            ];
            // "." and ".." are dot segments: the URL is normalised (RFC 3986 5.2.4) before the
            // request leaves, so it would address another route, not this operation.
            let arbitrary = "[a-zA-Z0-9._~@%-]{1,24}"
                .prop_filter("dot segments address another path", |s| {
                    s != "." && s != ".."
                });
            (any::<bool>(), arbitrary, query, body)
                .prop_map(move |(real_params, arbitrary, query, body)| Case {
                    operation: id.clone(),
                    real_params,
                    arbitrary,
                    query,
                    body,
                })
                .boxed()
        })
        .collect();
    proptest::strategy::Union::new(cases)
}

/// PROFILE.error-body: `{error, message}` strings.
fn is_error_body(body: &[u8]) -> bool {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    v["error"].as_str().is_some_and(|s| !s.is_empty())
        && v["message"].as_str().is_some_and(|s| !s.is_empty())
}

fn judge(case: &Case) -> Result<(), String> {
    let w = world();
    let op = w.spec.operation(&case.operation).ok_or("no operation")?;
    let segment = |real: &str| {
        if case.real_params {
            real.to_owned()
        } else {
            case.arbitrary.replace('%', "%25")
        }
    };
    let path = op
        .path
        .replace("{groupId}", &segment(&w.group_id))
        .replace("{memberId}", &segment(&w.actor.fid))
        .replace("{fid}", &segment(&w.actor.fid));
    let url = if case.query.is_empty() {
        format!("{}{path}", w.base)
    } else {
        format!("{}{path}?{}", w.base, case.query)
    };
    let method = reqwest::Method::from_bytes(op.method.to_uppercase().as_bytes())
        .map_err(|e| e.to_string())?;
    let mut req = w.client.request(method, url).bearer_auth(&w.actor.token);
    if let Some(body) = &case.body {
        req = req.json(body);
    }
    let (status, content_type, body) = w.rt.block_on(async {
        let resp = req.send().await.map_err(|e| format!("no answer: {e}"))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, content_type, body.to_vec()))
    })?;
    let text = String::from_utf8_lossy(&body);
    if status >= 500 {
        return Err(format!("{status}: {text}"));
    }
    let discovery = case.operation == "keypackages_discoverKeyPackages";
    if op.documents(status) && status < 400 {
        return w
            .spec
            .check_response(&case.operation, status, content_type.as_deref(), &body)
            .map_err(|e| format!("{status} does not match the document: {e:?}: {text}"));
    }
    if discovery && status == 204 {
        return Ok(());
    }
    if ![400, 401, 404, 409, 413].contains(&status) {
        return Err(format!(
            "{status} is neither documented nor a profile status: {text}"
        ));
    }
    let listed = case.operation == "keypackages_addKeyPackages"
        && status == 400
        && w.spec
            .check_response(&case.operation, status, content_type.as_deref(), &body)
            .is_ok();
    if listed || is_error_body(&body) {
        Ok(())
    } else {
        Err(format!("{status} without PROFILE.error-body: {text}"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_operation_answers_documented_or_profile_statuses_never_5xx(case in arb_case()) {
        let verdict = judge(&case);
        prop_assert!(verdict.is_ok(), "{case:?}: {:?}", verdict.err());
    }
}

#[test]
fn the_generator_covers_every_operation_with_a_body() {
    // The schema-valid generator must produce an object for each request schema, so the
    // valid half of the cases really is schema-valid.
    let spec = &world().spec;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for op in spec.operations.values() {
        let Some(schema) = op.request_body.get("application/json") else {
            continue;
        };
        let value = valid(schema, 0)
            .new_tree(&mut runner)
            .map_err(|e| TestCaseError::fail(e.to_string()))
            .expect("a value")
            .current();
        let compiled = jsonschema::validator_for(schema).expect("schema compiles");
        assert!(
            compiled.is_valid(&value),
            "{}: {value} does not fit {schema}",
            op.id
        );
    }
}
