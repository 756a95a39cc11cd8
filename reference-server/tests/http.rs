//! The router driven without a socket (`tower::ServiceExt::oneshot`): client mistakes get clear
//! 4xx answers, never 5xx.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use p2mls_reference_server::{app, AppState, Config};
use tower::ServiceExt;

async fn state() -> AppState {
    AppState::new(Config::ephemeral("s3cret"))
        .await
        .expect("state")
}

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Vec<(String, String)>, String) {
    let resp = app(state.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn post_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
async fn mls_routes_need_a_bearer_token() {
    let state = state().await;
    let (status, headers, body) = call(
        &state,
        Request::get("/.p2/mls/v1/groups/x")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "www-authenticate" && v == "Bearer"));
    assert!(body.contains("\"error\":\"unauthorized\""), "{body}");
}

#[tokio::test]
async fn registration_refuses_bad_input_with_4xx() {
    let state = state().await;
    let register = "/.p2/p2mls/v1/register";
    let (status, _, body) = call(&state, post_json(register, "{\"name\": ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = call(
        &state,
        post_json(register, r#"{"name":"a","secret":"wrong","password":"p"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(
        &state,
        post_json(
            register,
            r#"{"name":"A B","secret":"s3cret","password":"p"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let ok = r#"{"name":"alice","secret":"s3cret","password":"p"}"#;
    let (status, _, body) = call(&state, post_json(register, ok)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.contains("alice@localhost"));
    let (status, _, _) = call(&state, post_json(register, ok)).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn garbage_csr_and_unknown_routes_are_client_errors() {
    let state = state().await;
    let req = Request::post("/.p2/core/v1/idcert")
        .header("authorization", "Bearer nope")
        .body(Body::from("not a csr"))
        .expect("req");
    let (status, _, _) = call(&state, req).await;
    assert!(status.is_client_error(), "{status}");
    let (status, _, _) = call(
        &state,
        Request::get("/nowhere").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = call(
        &state,
        Request::get("/.p2/core/v1/idcert/server")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("BEGIN CERTIFICATE"));
}

#[test]
fn multi_label_domains_are_configurable_and_empty_labels_are_not() {
    let args = |domain: &str| p2mls_reference_server::ServeArgs {
        domain: Some(domain.to_owned()),
        in_memory: true,
        registration_secret: Some("s3cret".into()),
        ..Default::default()
    };
    let config = Config::resolve(args("mls.example.com")).expect("multi-label domain");
    assert_eq!(config.domain, "mls.example.com");
    for bad in ["", "a..b", "example."] {
        let err = Config::resolve(args(bad)).expect_err("refused");
        assert!(err.to_string().contains("empty"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn a_server_for_a_multi_label_domain_certifies_its_actors() {
    use p2mls_protocol::idcert::{build_csr, cert_pem_to_der, verify_actor_cert, ActorName};
    use p2mls_protocol::routes;

    let mut config = Config::ephemeral("s3cret");
    config.domain = "mls.example.com".into();
    let state = AppState::new(config).await.expect("state");
    let (status, _, body) = call(
        &state,
        post_json(
            routes::REGISTER,
            r#"{"name":"alice","secret":"s3cret","password":"pw"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let reg: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(reg["fid"], "alice@mls.example.com");

    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let name = ActorName {
        local_name: "alice".into(),
        domain: "mls.example.com".into(),
        session_id: "s1".into(),
    };
    let csr = build_csr(&name, &key).expect("csr");
    let req = Request::post(routes::IDCERT)
        .header(
            "authorization",
            format!("Bearer {}", reg["token"].as_str().expect("token")),
        )
        .header(routes::SENSITIVE_SOLUTION_HEADER, "pw")
        .body(Body::from(csr))
        .expect("req");
    let (status, _, body) = call(&state, req).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let issued: serde_json::Value = serde_json::from_str(&body).expect("json");
    let cert = cert_pem_to_der(issued["id_cert"].as_str().expect("id_cert")).expect("pem");

    let (status, _, body) = call(
        &state,
        Request::get(routes::SERVER_IDCERT)
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let root: serde_json::Value = serde_json::from_str(&body).expect("json");
    let root = cert_pem_to_der(root["idCertPem"].as_str().expect("idCertPem")).expect("pem");
    let info = verify_actor_cert(&cert, &root).expect("valid actor cert");
    assert_eq!(info.name, name);
    assert_eq!(info.issuer_domain, "mls.example.com");
    assert_eq!(info.public_key, key.verifying_key().to_bytes());
}

/// Core 3.1 with `actual_domain`: the well-known names the actual domain's API whatever host is
/// asked; requests addressed to the visible domain get that document only, the actual domain
/// everything.
#[tokio::test]
async fn an_actual_domain_is_named_by_the_well_known_and_alone_serves_the_api() {
    let mut config = Config::ephemeral("s3cret");
    config.domain = "example.test".into();
    config.actual_domain = Some("mls.example.test:8443".into());
    let state = AppState::new(config).await.expect("state");
    let get = |host: &str, path: &str| {
        Request::get(path)
            .header("host", host)
            .body(Body::empty())
            .expect("request")
    };
    for host in ["example.test", "EXAMPLE.test:443", "mls.example.test:8443"] {
        let (status, _, body) = call(&state, get(host, "/.well-known/polyproto-core")).await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
        assert_eq!(
            body, r#"{"api":"mls.example.test:8443/.p2/core/"}"#,
            "{host}"
        );
    }
    let server_cert = "/.p2/core/v1/idcert/server";
    let (status, _, _) = call(&state, get("example.test", server_cert)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = call(&state, get("mls.example.test:8443", server_cert)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Without `actual_domain` the well-known names the host asked, as before.
#[tokio::test]
async fn without_an_actual_domain_the_well_known_names_the_host_asked() {
    let state = state().await;
    let (status, _, body) = call(
        &state,
        Request::get("/.well-known/polyproto-core")
            .header("host", "localhost:8080")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"api":"localhost:8080/.p2/core/"}"#);
}
