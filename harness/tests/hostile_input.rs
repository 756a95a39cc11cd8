//! The reference server under hostile input, over real loopback HTTP. Arbitrary bytes, arbitrary
//! JSON, well-shaped bodies with arbitrary field values and sound KeyPackages with flipped or cut
//! bytes, sent with valid credentials to every write route (including routes of a group that
//! exists, so the bodies get past visibility and reach the MLS parsing), and hostile path
//! segments and queries on the read routes, must never get a 5xx; every 4xx carries a
//! PROFILE.error-body object (or the documented `[{id, reason}]` of KeyPackage upload); and
//! afterwards the server still serves the group it held before. Hostile gateway frames (any
//! namespace, opcode, payload, sequence number; core events with hostile values) get events or a
//! polyproto close code.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use p2mls::clients::actors::{register, Actor};
use p2mls::clients::http::Http;
use p2mls::clients::mls::{key_package_json, KeyPackageOptions};
use p2mls_protocol::suites::SuiteRegistry;
use proptest::prelude::*;
use serde_json::{json, Value};

const SECRET: &str = "hostile-secret";

/// One server, one registered actor and one group for every case.
struct World {
    rt: tokio::runtime::Runtime,
    base: String,
    actor: Actor,
    group_id: String,
    /// A sound KeyPackage (MLSMessage bytes) and its JSON object, for mutation.
    key_package: (Vec<u8>, Value),
    client: reqwest::Client,
    _server: p2mls_reference_server::RunningServer,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let (server, actor, group_id, key_package) = rt.block_on(async {
            let config = p2mls_reference_server::Config::ephemeral(SECRET);
            let server = p2mls_reference_server::spawn(config)
                .await
                .expect("server starts");
            let http = Http::new(&server.url(), std::time::Duration::from_secs(10)).expect("http");
            let actor = register(&http, SECRET, "alice", "0badf00d")
                .await
                .expect("registers");
            let key_package = || {
                let bytes = actor
                    .mls
                    .key_package(
                        openmls::prelude::Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
                        &KeyPackageOptions::default(),
                    )
                    .expect("key package");
                let json = key_package_json(&bytes, &SuiteRegistry::default()).expect("json");
                (bytes, json)
            };
            let (_, kp) = key_package();
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
            let fresh = key_package();
            (server, actor, group_id, fresh)
        });
        World {
            rt,
            base: server.url(),
            actor,
            group_id,
            key_package,
            client: reqwest::Client::new(),
            _server: server,
        }
    })
}

/// The write routes, with the group's id where one is needed.
fn routes(w: &World) -> Vec<String> {
    let g = &w.group_id;
    vec![
        "/.p2/mls/v1/keypackages".into(),
        "/.p2/mls/v1/groups".into(),
        format!("/.p2/mls/v1/groups/{g}/proposals"),
        format!("/.p2/mls/v1/groups/{g}/commits"),
        format!("/.p2/mls/v1/groups/{g}/messages"),
        "/.p2/core/v1/idcert".into(),
        "/.p2/p2mls/v1/register".into(),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| Value::from(B64.encode(b))),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("type".to_owned()),
                    Just("mlsMessage".to_owned()),
                    Just("welcome".to_owned()),
                    Just("epoch".to_owned()),
                    Just("groupId".to_owned()),
                    Just("keyPackage".to_owned()),
                    Just("proposals".to_owned()),
                    ".{1,12}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bodies the routes' own shapes invite, with hostile values: the fields a client sends, each
/// holding arbitrary base64 bytes, numbers or strings.
fn arb_shaped() -> impl Strategy<Value = Value> {
    let bytes = prop::collection::vec(any::<u8>(), 0..400).prop_map(|b| Value::from(B64.encode(b)));
    let value = prop_oneof![bytes.clone(), arb_json()];
    (bytes, value.clone(), value, any::<u64>(), ".{0,20}").prop_map(|(mls, a, b, epoch, text)| {
        json!({
            "id": text,
            "type": "add",
            "groupId": a,
            "epoch": epoch,
            "mlsMessage": mls,
            "welcome": b,
            "signature": B64.encode([0u8; 64]),
            "proposals": [],
            "keyPackage": { "mlsMessage": B64.encode([1u8, 0, 0, 5]) },
        })
    })
}

#[derive(Debug)]
enum Body {
    Bytes(Vec<u8>),
    Json(Value),
    /// The sound KeyPackage with bytes flipped at these offsets (modulo its length) and cut to
    /// `len` bytes, in its JSON object: the server's MLS decoding gets hostile bytes.
    MutatedKeyPackage {
        flips: Vec<(usize, u8)>,
        len: usize,
    },
}

fn arb_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512).prop_map(Body::Bytes),
        arb_json().prop_map(Body::Json),
        arb_shaped().prop_map(Body::Json),
        arb_shaped().prop_map(|v| Body::Json(Value::Array(vec![v.clone(), v]))),
        (
            prop::collection::vec((any::<usize>(), 1u8..), 1..4),
            any::<usize>()
        )
            .prop_map(|(flips, len)| Body::MutatedKeyPackage { flips, len }),
    ]
}

/// Sends one hostile request; returns (status, body).
fn send(w: &World, route: &str, body: &Body) -> (u16, String) {
    w.rt.block_on(async {
        let mut req = w
            .client
            .post(format!("{}{route}", w.base))
            .bearer_auth(&w.actor.token)
            .header("X-P2-Sensitive-Solution", "wrong-or-right");
        req = match body {
            Body::Bytes(b) => req
                .header("content-type", "application/json")
                .body(b.clone()),
            Body::Json(v) => req.json(v),
            Body::MutatedKeyPackage { flips, len } => {
                let (bytes, object) = &w.key_package;
                let mut bytes = bytes.clone();
                for (at, mask) in flips {
                    let i = at % bytes.len();
                    bytes[i] ^= mask;
                }
                bytes.truncate((len % (bytes.len() + 1)).max(1));
                let mut object = object.clone();
                object["mlsMessage"] = Value::from(B64.encode(bytes));
                // Upload takes a list; group creation and proposals take one object.
                if route.ends_with("/keypackages") {
                    req.json(&json!([object]))
                } else {
                    req.json(&object)
                }
            }
        };
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    })
}

fn is_error_body(status: u16, route: &str, text: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    if status == 400 && route.ends_with("/keypackages") && v.is_array() {
        return true;
    }
    v["error"].as_str().is_some_and(|e| !e.is_empty()) && v["message"].is_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn hostile_bodies_get_4xx_with_an_error_body_never_5xx(
        route_index in 0usize..7,
        body in arb_body(),
    ) {
        let w = world();
        let route = &routes(w)[route_index];
        let (status, text) = send(w, route, &body);
        prop_assert!(status < 500, "{route} answered {status}: {text}");
        if (400..500).contains(&status) {
            prop_assert!(is_error_body(status, route, &text), "{route} {status}: {text}");
        }
    }
}

/// Every byte percent-encoded, so any string fits in a path segment or query value.
fn encode(raw: &[u8]) -> String {
    raw.iter().map(|b| format!("%{b:02X}")).collect()
}

/// Read routes with hostile path segments and query strings.
fn read_url(w: &World, template: usize, raw: &[u8], query: &str) -> String {
    let g = &w.group_id;
    let fid = &w.actor.fid;
    let x = encode(raw);
    let path = match template {
        0 => format!("/.p2/mls/v1/keypackages/{x}?ciphersuites={query}"),
        1 => format!("/.p2/mls/v1/keypackages/{fid}?{query}"),
        2 => format!("/.p2/mls/v1/groups/{g}/commits?since={query}"),
        3 => format!("/.p2/mls/v1/groups/{x}/members/{x}"),
        4 => format!("/.p2/mls/v1/groups/{g}/members/{x}"),
        5 => format!("/.p2/mls/v1/groups/{g}/messages?{query}"),
        _ => format!("/.p2/mls/v1/welcomes?{query}"),
    };
    format!("{}{path}", w.base)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn hostile_paths_and_queries_get_4xx_with_an_error_body_never_5xx(
        template in 0usize..7,
        raw in prop::collection::vec(any::<u8>(), 1..40),
        query in prop_oneof![
            "[a-z=&,.0-9x-]{0,30}",
            prop::collection::vec(any::<u8>(), 0..30).prop_map(|b| encode(&b)),
            Just("since=18446744073709551616".to_owned()),
            Just("ciphersuites=".to_owned()),
        ],
    ) {
        let w = world();
        let url = read_url(w, template, &raw, &query);
        let (status, text) = w.rt.block_on(async {
            let resp = w.client.get(&url).bearer_auth(&w.actor.token).send().await
                .expect("the server answers");
            (resp.status().as_u16(), resp.text().await.unwrap_or_default())
        });
        prop_assert!(status < 500, "{url} answered {status}: {text}");
        if (400..500).contains(&status) {
            prop_assert!(is_error_body(status, &url, &text), "{url} {status}: {text}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Session revocation (PROFILE.session-revoke) with the account's credentials and a hostile
    /// query: a 4xx with the error body (or a 204 should the query name a session), never a 5xx.
    #[test]
    fn hostile_revocation_queries_get_4xx_with_an_error_body_never_5xx(
        query in prop_oneof![
            "[a-z_=&%0-9-]{0,40}",
            prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| format!("session_id={}", encode(&b))),
            prop::collection::vec(any::<u8>(), 0..30).prop_map(|b| encode(&b)),
        ],
    ) {
        let w = world();
        let account = w.actor.account.as_ref().expect("a registered actor has its account");
        let url = format!("{}/.p2/core/v1/session?{query}", w.base);
        let (status, text) = w.rt.block_on(async {
            let resp = w.client.delete(&url)
                .bearer_auth(&account.token)
                .header("X-P2-Sensitive-Solution", &account.password)
                .send().await
                .expect("the server answers");
            (resp.status().as_u16(), resp.text().await.unwrap_or_default())
        });
        prop_assert!(status < 500, "{url} answered {status}: {text}");
        if (400..500).contains(&status) {
            prop_assert!(is_error_body(status, &url, &text), "{url} {status}: {text}");
        }
    }
}

#[test]
fn the_group_survives_the_onslaught() {
    // Runs in the same process as the property above (order not guaranteed): either way the
    // group created at the start must still be served whole.
    let w = world();
    // The group's routes are reached (the bodies get past authentication and visibility to the
    // parsing): a malformed body is a 400, not a 401 or 404.
    for route in &routes(w)[2..5] {
        let (status, text) = send(w, route, &Body::Bytes(b"{\"mlsMessage\": 1}".to_vec()));
        assert_eq!(status, 400, "{route}: {text}");
    }
    let (status, text) = w.rt.block_on(async {
        let resp = w
            .client
            .get(format!(
                "{}/.p2/mls/v1/groups/{}/members",
                w.base, w.group_id
            ))
            .bearer_auth(&w.actor.token)
            .send()
            .await
            .expect("answers");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    });
    assert_eq!(status, 200, "{text}");
    let members: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(members.as_array().map(Vec::len), Some(1), "{text}");
}

/// Gateway events with hostile parts: any namespace, opcode, payload and sequence number.
fn arb_frame() -> impl Strategy<Value = String> {
    let event = (
        prop_oneof![Just(json!("core")), Just(json!("mls")), arb_json()],
        prop_oneof![(0u64..16).prop_map(Value::from), arb_json()],
        arb_json(),
        prop_oneof![Just(None), any::<u64>().prop_map(Some)],
    )
        .prop_map(|(n, op, d, s)| {
            let mut e = json!({ "n": n, "op": op, "d": d });
            if let Some(s) = s {
                e["s"] = json!(s);
            }
            e.to_string()
        });
    // Events of the real core opcodes with hostile values inside a plausible payload.
    let shaped = prop_oneof![
        // Heartbeat numbers are strings (core §3.2.3.2); the range and the gaps are hostile.
        (
            any::<u64>(),
            any::<u64>(),
            prop::collection::vec(any::<u64>(), 0..4)
        )
            .prop_map(|(from, to, except)| {
                let except: Vec<String> = except.iter().map(u64::to_string).collect();
                json!({"n": "core", "op": 0,
                       "d": {"from": from.to_string(), "to": to.to_string(), "except": except}})
            }),
        (
            prop_oneof![
                Just("subscribe".to_owned()),
                Just("unsubscribe".to_owned()),
                ".{0,12}"
            ],
            prop_oneof![Just("mls".to_owned()), ".{0,12}"],
        )
            .prop_map(|(action, service)| {
                json!({"n": "core", "op": 8, "d": {"action": action, "service": service}})
            }),
        ".{0,40}".prop_map(|token| json!({"n": "core", "op": 2, "d": {"token": token}})),
        (".{0,40}", any::<u64>())
            .prop_map(|(token, s)| json!({"n": "core", "op": 5, "d": {"token": token, "s": s}})),
    ]
    .prop_map(|v| v.to_string());
    prop_oneof![
        8 => shaped,
        1 => event,
        1 => arb_json().prop_map(|v| v.to_string()),
        1 => ".{0,60}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Hostile gateway frames, before or after identifying: the server answers or closes with a
    /// polyproto close code (4000-4010), never drops the connection without one, never sends
    /// a frame that is not a JSON event.
    #[test]
    fn hostile_gateway_frames_get_events_or_a_gateway_close_code(
        identify in any::<bool>(),
        frames in prop::collection::vec(arb_frame(), 1..3),
    ) {
        use p2mls::clients::gateway::{GatewayClient, Incoming, Transcript};
        let w = world();
        let url = format!("{}{}", w.base.replacen("http", "ws", 1), p2mls_protocol::gateway::SOCKET);
        let outcome: Result<(), String> = w.rt.block_on(async {
            let mut client = GatewayClient::connect(&url, "fuzz", Transcript::default()).await?;
            let wait = std::time::Duration::from_millis(300);
            client.expect(wait * 5, "hello", |e| e["op"] == 1).await?;
            if identify {
                client.identify(&w.actor.token).await?;
            }
            for frame in &frames {
                if client.send_text(frame.clone()).await.is_err() {
                    break; // closed under us: judged below by the close code
                }
            }
            loop {
                match client.recv(wait).await {
                    Incoming::Event(_) => continue,
                    Incoming::Timeout => return Ok(()),
                    Incoming::Closed(Some(code)) if (4000..=4010).contains(&code) => return Ok(()),
                    Incoming::Closed(code) => {
                        return Err(format!("closed with {code:?} after {frames:?}"))
                    }
                    Incoming::Malformed(text) => {
                        return Err(format!("the server sent a malformed frame: {text}"))
                    }
                }
            }
        });
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}
