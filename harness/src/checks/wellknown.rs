//! Core 3.1: the `.well-known` document through which a client finds a home server's polyproto
//! API, and the rule that binds the API's server to the domain it serves.

use p2mls_protocol::routes;
use reqwest::Method;

use super::context::{expect_status, snippet, Ctx, ALICE};
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
    .judged_by(|ctx| Box::pin(well_known(ctx))),
    CheckDef::new(
        "core.visible-domain",
        Level::Must,
        "The visible domain's well-known names an API whose server ID-Cert's issuer DCs spell that domain",
    )
    .requires(&["CORE.3.1.visible-domain"])
    .needs(&[Fixture::Actors])
    .isolated()
    .judged_by(|ctx| Box::pin(visible_domain(ctx)))]
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

/// Core 3.1, items 1 to 5, followed as a client follows them: from the visible domain (the
/// domain of the actors' FIDs) to its well-known document, to the API it names (the actual
/// domain), to that server's ID-Cert, whose issuer's DCs must spell the visible domain. When
/// the two domains are one, the chain is the same, only shorter in hosts.
pub async fn visible_domain(ctx: &mut Ctx) -> CheckResult {
    let fid = ctx.fid(ALICE);
    let Some((_, visible)) = fid.rsplit_once('@') else {
        return Err(Finding::mismatch("an FID local@domain", fid));
    };
    let visible = visible.to_owned();
    let visible_base = visible_base(ctx, &visible)?;
    let resp = ctx
        .send_at(
            &visible_base,
            ApiRequest::new(Method::GET, routes::WELL_KNOWN_CORE.to_owned(), Auth::None),
        )
        .await?;
    expect_status(
        &resp,
        &[200],
        &format!("the well-known document of the visible domain {visible}"),
    )?;
    let api = resp
        .json()
        .and_then(|b| b.get("api").and_then(|a| a.as_str()).map(str::to_owned));
    let scheme = visible_base.split("://").next().unwrap_or("https");
    let Some(actual_base) = api.as_deref().and_then(|api| api_origin(api, scheme)) else {
        return Err(Finding::mismatch(
            r#"a JSON object {"api": "[actual domain name]/.p2/core/"}"#,
            snippet(&resp.text()),
        ));
    };
    let resp = ctx
        .send_at(
            &actual_base,
            ApiRequest::new(Method::GET, routes::SERVER_IDCERT, Auth::None),
        )
        .await?;
    expect_status(
        &resp,
        &[200],
        &format!("the server ID-Cert at {actual_base}, the API the visible domain {visible} names"),
    )?;
    let pem = resp
        .json()
        .and_then(|b| b["idCertPem"].as_str().map(str::to_owned))
        .ok_or_else(|| {
            Finding::mismatch("idCertPem holding a PEM certificate", snippet(&resp.text()))
        })?;
    let der = crate::x509::pem_to_der(&pem)
        .map_err(|e| Finding::mismatch("a PEM certificate in idCertPem", e.to_string()))?;
    let cert = crate::x509::parse(&der)
        .map_err(|e| Finding::mismatch("a DER X.509 certificate", e.to_string()))?;
    let issuer = crate::x509::claims(cert.issuer())
        .map_err(|e| Finding::mismatch("an issuer pDN", e.to_string()))?
        .domain();
    if issuer.eq_ignore_ascii_case(&visible) {
        Ok(())
    } else {
        Err(Finding::mismatch(
            format!("the issuer's domain components spelling the visible domain {visible}"),
            format!("they spell `{issuer}` (the server ID-Cert of {actual_base})"),
        ))
    }
}

/// Where the visible domain is asked: the config's `visible_url`, else the target's scheme and
/// the domain; a loopback domain of a loopback target on the target's port (the same machine,
/// where no port is the default).
fn visible_base(ctx: &Ctx, visible: &str) -> Result<String, Finding> {
    if let Some(url) = &ctx.visible_url {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let target = reqwest::Url::parse(ctx.http.base()).map_err(Finding::harness)?;
    let loopback = |host: &str| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let scheme = target.scheme();
    Ok(match (target.host_str(), target.port()) {
        (Some(host), Some(port)) if loopback(host) && loopback(visible) => {
            format!("{scheme}://{visible}:{port}")
        }
        _ => format!("{scheme}://{visible}"),
    })
}

/// The origin of `[actual domain name]/.p2/core/`: the text before `/.p2/core/` (a path in
/// front of it is kept, the text does not forbid one), given the scheme the visible domain was
/// asked with when it has none.
fn api_origin(api: &str, scheme: &str) -> Option<String> {
    let origin = api
        .trim_end_matches('/')
        .strip_suffix(routes::CORE_API.trim_end_matches('/'))?;
    if origin.is_empty() || origin.ends_with("://") {
        return None;
    }
    Some(if origin.contains("://") {
        origin.to_owned()
    } else {
        format!("{scheme}://{origin}")
    })
}

#[cfg(test)]
mod tests {
    use super::api_origin;

    #[test]
    fn the_api_origin_is_what_precedes_the_core_path() {
        assert_eq!(
            api_origin("mls.example.com/.p2/core/", "https").as_deref(),
            Some("https://mls.example.com")
        );
        assert_eq!(
            api_origin("http://127.0.0.1:8080/.p2/core", "https").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(api_origin("/.p2/core/", "https"), None);
        assert_eq!(api_origin("mls.example.com/api/", "https"), None);
        assert_eq!(api_origin("https:///.p2/core/", "https"), None);
    }
}
