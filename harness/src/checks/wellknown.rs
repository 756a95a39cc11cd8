//! Core 3.1: the `.well-known` document through which a client finds a home server's polyproto
//! API, and the rule that binds the API's server to the domain it serves.

use p2mls_protocol::routes;
use reqwest::Method;

use super::context::{expect_status, snippet, Ctx};
use super::unit::{CheckDef, Fixture};
use crate::check::{CheckResult, Finding, Level};
use crate::clients::http::{ApiRequest, Auth};

/// The `.well-known` checks: core routes, always listed.
pub fn checks() -> Vec<CheckDef> {
    vec![CheckDef::new(
        "core.well-known",
        Level::Must,
        "GET /.well-known/polyproto-core answers a JSON object whose `api` names the server's /.p2/core/",
    )
    .requires(&["CORE.3.1.well-known"])
    .needs(&[Fixture::Actors])
    .isolated()
    .judged_by(|ctx| Box::pin(well_known(ctx)))]
}

/// `{"api": "[actual domain name]/.p2/core/"}` (core 3.1, items 3 and 4).
pub async fn well_known(ctx: &mut Ctx) -> CheckResult {
    let resp = ctx
        .send(ApiRequest::new(
            Method::GET,
            routes::WELL_KNOWN_CORE.to_owned(),
            Auth::None,
        ))
        .await?;
    expect_status(&resp, &[200], "the well-known document of the domain")?;
    let body = resp.json();
    let api = body
        .as_ref()
        .and_then(|b| b.as_object())
        .and_then(|o| o.get("api"))
        .and_then(|a| a.as_str());
    match api {
        // The text writes the API as a domain and a path; a scheme in front is tolerated.
        Some(api)
            if api
                .trim_end_matches('/')
                .ends_with(routes::CORE_API.trim_end_matches('/'))
                && api.len() > routes::CORE_API.len() =>
        {
            Ok(())
        }
        _ => Err(Finding::mismatch(
            r#"a JSON object {"api": "[actual domain name]/.p2/core/"}"#,
            snippet(&resp.text()),
        )),
    }
}
