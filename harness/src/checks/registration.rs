//! Actor registration (PROFILE.actor-registration), in reference mode only: the harness holds
//! the registration secret there and nowhere else.

use reqwest::Method;
use serde_json::json;

use super::context::{expect_client_error, expect_error, expect_status, Ctx};
use super::unit::{CheckDef, Fixture};
use crate::check::{CheckResult, Finding};
use crate::clients::http::{ApiRequest, Auth};

/// The registration checks (reference mode: the harness holds the registration secret).
pub fn checks() -> Vec<CheckDef> {
    use crate::check::Level::*;
    use Fixture::*;
    vec![
        CheckDef::new(
            "registration.names",
            Profile,
            "Registration accepts exactly the names `[a-z0-9._%+-]{1,64}`",
        )
        .requires(&["PROFILE.actor-registration", "PROFILE.error-body"])
        .needs(&[Actors, Account])
        .isolated()
        .judged_by(|ctx| Box::pin(names(ctx))),
        CheckDef::new(
            "registration.name-unique-any-case",
            Must,
            "A registered local name is not registered again, in the same or another letter case",
        )
        .requires(&["CORE.5.local-name-unique"])
        .needs(&[Actors, Account])
        .isolated()
        .judged_by(|ctx| Box::pin(name_unique_any_case(ctx))),
    ]
}

/// The registration secret, which only reference mode gives the harness (`unsupported`
/// without).
pub(crate) fn secret(ctx: &Ctx) -> Result<String, Finding> {
    ctx.registration_secret.clone().ok_or_else(|| {
        Finding::Unsupported(
            "needs the registration secret, which only reference mode gives the harness".into(),
        )
    })
}

/// One name rule, `^[a-z0-9._%+-]{1,64}$`: a 64-character name using every character outside
/// `[a-z0-9]` the rule allows is registered; 65 characters, and an upper-case letter, are not.
pub async fn names(ctx: &mut Ctx) -> CheckResult {
    let secret = secret(ctx)?;
    let widest = format!("{:x<64}", format!("p2mls.{}_%+-", crate::random_hex(4)));
    let resp = register(ctx, &secret, &widest).await?;
    expect_status(
        &resp,
        &[201],
        &format!("the 64-character name `{widest}` to be registered"),
    )?;
    let long = format!("{widest}x");
    let resp = register(ctx, &secret, &long).await?;
    expect_error(&resp, 400, "a 65-character name to be refused")?;
    let upper = format!("P2mls-{}", crate::random_hex(4));
    let resp = register(ctx, &secret, &upper).await?;
    expect_error(&resp, 400, "a name with an upper-case letter to be refused")
}

/// Core 5: a local name is unique on its instance, and FIDs are case-insensitive, so a fresh name
/// once registered is refused (any client error) when asked for again as it is, in upper case,
/// and with one letter in upper case. Which 4xx is the profile's business (400 for a name with
/// upper-case letters, 409 `name_taken`; `registration.names` judges those); what the text
/// forbids is a second actor.
pub async fn name_unique_any_case(ctx: &mut Ctx) -> CheckResult {
    let secret = secret(ctx)?;
    let name = format!("{}p2mls-u-{}", ctx.name_prefix, crate::random_hex(4));
    let resp = register(ctx, &secret, &name).await?;
    expect_status(
        &resp,
        &[201],
        &format!("the fresh name `{name}` to be registered"),
    )?;
    let capitalised = name.replacen("p2mls-u-", "p2mls-U-", 1);
    for (what, again) in [
        ("the same name again", name.clone()),
        ("the name in upper case", name.to_uppercase()),
        ("the name with one upper-case letter", capitalised),
    ] {
        let resp = register(ctx, &secret, &again).await?;
        expect_client_error(
            &resp,
            &format!("{what} (`{again}`) to be refused: `{name}` is registered"),
        )?;
    }
    Ok(())
}

/// `POST /.p2/p2mls/v1/register`; the secret shows as `$REGISTRATION_SECRET` in the evidence.
async fn register(
    ctx: &mut Ctx,
    secret: &str,
    name: &str,
) -> Result<crate::clients::http::ApiResponse, Finding> {
    let req = ApiRequest::new(Method::POST, p2mls_protocol::routes::REGISTER, Auth::None)
        .json(&json!({ "name": name, "secret": secret, "password": crate::random_hex(8) }));
    let resp = ctx.send(req).await;
    if let Some(exchange) = ctx.recorder.exchanges.last_mut() {
        exchange.request = exchange.request.replace(secret, "$REGISTRATION_SECRET");
    }
    resp
}
