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
