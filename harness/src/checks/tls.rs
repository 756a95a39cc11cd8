//! TLS checks: the target's certificate (RFC 9110 §4.3.4 with RFC 5280/6125 validation by
//! rustls's WebPKI verifier, against the bundled web roots and the config's `ca_certs`) and
//! polyproto-core §3.4's HTTP/2 recommendation (ALPN `h2`). Both judge the probe handshake the
//! runner makes before anything else (`Ctx::tls_probe`).

use super::unit::CheckDef;
use super::Ctx;
use crate::check::{CheckResult, Finding};
use crate::clients::tls::{Probe, TlsObservation};

/// The TLS checks: judged on https:// targets by the probe handshake, unsupported on http://.
pub fn checks() -> Vec<CheckDef> {
    use crate::check::Level::*;
    vec![
        CheckDef::new("tls.certificate", Must, "An https:// target presents a certificate chain the configured trust anchors accept, valid now, for its host")
            .requires(&["TLS.https-certificate"])
                        .judged_by(|ctx| Box::pin(certificate(ctx))),
        CheckDef::new("tls.http2", Should, "The server offers HTTP/2 (ALPN h2) on TLS")
            .requires(&["CORE.3.4.http2"])
                        .judged_by(|ctx| Box::pin(http2(ctx))),
    ]
}

const PLAIN_HTTP: &str =
    "the target is served over plain http://: TLS is judged on https:// targets";

fn chain_text(observation: &TlsObservation) -> String {
    if observation.chain.is_empty() {
        return "no certificate".into();
    }
    observation
        .chain
        .iter()
        .enumerate()
        .map(|(i, c)| format!("[{i}] {c}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `tls.certificate`: the chain leads to a configured anchor, is valid now and names the host.
pub async fn certificate(ctx: &mut Ctx) -> CheckResult {
    let Some(probe) = ctx.tls_probe.as_deref() else {
        return Err(Finding::Unsupported(PLAIN_HTTP.into()));
    };
    match probe {
        Probe::Handshake(observation, verdict) => {
            let expected = format!(
                "a certificate chain for `{}` that the configured trust anchors accept, valid now",
                observation.host
            );
            match verdict {
                Ok(()) if ctx.tls.insecure_skip_verify => Err(Finding::Unsupported(
                    "insecure_skip_verify = true: the certificate is not judged (the configured anchors would accept it)".into(),
                )),
                Ok(()) => Ok(()),
                Err(why) if ctx.tls.insecure_skip_verify => Err(Finding::Unsupported(format!(
                    "insecure_skip_verify = true: the certificate is not judged (the configured anchors would refuse it: {why})"
                ))),
                Err(why) => Err(Finding::mismatch(
                    expected,
                    format!("{why}; chain: {}", chain_text(observation)),
                )),
            }
        }
        Probe::HandshakeFailed(failure) if failure.harness_limit => {
            Err(Finding::harness(failure.reason.clone()))
        }
        Probe::HandshakeFailed(failure) => Err(Finding::mismatch(
            "a TLS handshake on the https:// origin",
            failure.reason.clone(),
        )),
        Probe::Unreachable(why) => Err(Finding::harness(format!(
            "the probe did not reach the target: {why}"
        ))),
    }
}

/// `tls.http2`: offered `h2` and `http/1.1`, the server chooses `h2`.
pub async fn http2(ctx: &mut Ctx) -> CheckResult {
    let Some(probe) = ctx.tls_probe.as_deref() else {
        return Err(Finding::Unsupported(format!(
            "{PLAIN_HTTP} (HTTP/2 is probed by ALPN)"
        )));
    };
    match probe {
        Probe::Handshake(observation, _) => match observation.alpn.as_deref() {
            Some("h2") => Ok(()),
            Some(other) => Err(Finding::mismatch(
                "ALPN `h2` chosen when the client offers `h2` and `http/1.1`",
                format!("the server chose `{other}` ({})", observation.version),
            )),
            None => Err(Finding::mismatch(
                "ALPN `h2` chosen when the client offers `h2` and `http/1.1`",
                format!(
                    "the server chose no ALPN protocol ({})",
                    observation.version
                ),
            )),
        },
        Probe::HandshakeFailed(failure) => Err(Finding::harness(format!(
            "no TLS session to read ALPN from: {}",
            failure.reason
        ))),
        Probe::Unreachable(why) => Err(Finding::harness(format!(
            "the probe did not reach the target: {why}"
        ))),
    }
}
