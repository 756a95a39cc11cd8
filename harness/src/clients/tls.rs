//! TLS for the harness's clients: the trust anchors (bundled web roots plus the target config's
//! `ca_certs`), the explicit `insecure_skip_verify` opt-out, and the probe that records what a
//! target presents (version, ALPN, certificate chain) and whether the anchors accept it.
//!
//! The probe judges with rustls's WebPKI verifier (RFC 5280 path validation, RFC 6125 names):
//! third-party code, never the reference server's.

use crate::Error;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;

/// How the harness trusts targets.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    roots: Arc<RootCertStore>,
    /// The CA files the config named (for the report header).
    pub ca_certs: Vec<PathBuf>,
    /// Accept any certificate: local experiments only, printed in every report.
    pub insecure_skip_verify: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self::with_extra_roots(Vec::new(), Vec::new(), false)
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsSettings {
    /// The bundled web roots plus `extra` anchors.
    pub fn with_extra_roots(
        extra: Vec<CertificateDer<'static>>,
        ca_certs: Vec<PathBuf>,
        insecure_skip_verify: bool,
    ) -> Self {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let (_added, _ignored) = roots.add_parsable_certificates(extra);
        Self {
            roots: Arc::new(roots),
            ca_certs,
            insecure_skip_verify,
        }
    }

    /// The bundled web roots plus every certificate in the PEM files.
    pub fn from_files(ca_certs: &[PathBuf], insecure_skip_verify: bool) -> Result<Self, Error> {
        let mut extra = Vec::new();
        for path in ca_certs {
            extra.extend(read_pem_certificates(path)?);
        }
        Ok(Self::with_extra_roots(
            extra,
            ca_certs.to_vec(),
            insecure_skip_verify,
        ))
    }

    /// Extra anchors from PEM text (embedded runs, tests).
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let extra = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Config(format!("CA certificates are not PEM: {e}")))?;
        Ok(Self::with_extra_roots(extra, Vec::new(), false))
    }

    fn webpki(&self) -> Arc<WebPkiServerVerifier> {
        // Only fails without roots; the bundled ones are always there.
        WebPkiServerVerifier::builder_with_provider(self.roots.clone(), provider())
            .build()
            .expect("the bundled web roots make a verifier")
    }

    fn config(&self, verifier: Arc<dyn ServerCertVerifier>, alpn: &[&[u8]]) -> ClientConfig {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }

    fn verifier(&self) -> Arc<dyn ServerCertVerifier> {
        if self.insecure_skip_verify {
            Arc::new(Lenient {
                inner: self.webpki(),
                seen: None,
            })
        } else {
            self.webpki()
        }
    }

    /// For HTTP: HTTP/2 and HTTP/1.1 by ALPN.
    pub fn http_config(&self) -> ClientConfig {
        self.config(self.verifier(), &[b"h2", b"http/1.1"])
    }

    /// For WebSockets: HTTP/1.1 only (the upgrade is an HTTP/1.1 mechanism).
    pub fn ws_config(&self) -> Arc<ClientConfig> {
        Arc::new(self.config(self.verifier(), &[b"http/1.1"]))
    }

    /// One handshake with `url`'s host that records the chain and the verdict of the anchors
    /// (whatever it is), the TLS version and the ALPN protocol. No request is sent.
    pub async fn probe(&self, url: &str, timeout: Duration) -> Probe {
        let parsed = match reqwest::Url::parse(url) {
            Ok(u) => u,
            Err(e) => return Probe::Unreachable(format!("{url} is not a URL: {e}")),
        };
        let Some(host) = parsed
            .host_str()
            .map(|h| h.trim_matches(['[', ']']).to_owned())
        else {
            return Probe::Unreachable(format!("{url} names no host"));
        };
        let port = parsed.port_or_known_default().unwrap_or(443);
        let name = match ServerName::try_from(host.clone()) {
            Ok(n) => n,
            Err(e) => return Probe::Unreachable(format!("{host} is not a TLS server name: {e}")),
        };
        let recorder = Arc::new(Lenient {
            inner: self.webpki(),
            seen: Some(Mutex::default()),
        });
        let config = self.config(recorder.clone(), &[b"h2", b"http/1.1"]);
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = match tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                return Probe::Unreachable(format!("cannot connect to {host}:{port}: {e}"))
            }
            Err(_) => {
                return Probe::Unreachable(format!(
                    "connecting to {host}:{port} took longer than {timeout:?}"
                ))
            }
        };
        let handshake = tokio::time::timeout(timeout, connector.connect(name, tcp)).await;
        let seen = recorder.take_seen();
        let stream = match handshake {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Probe::HandshakeFailed(classify(&e)),
            Err(_) => {
                return Probe::HandshakeFailed(HandshakeFailure {
                    harness_limit: false,
                    reason: format!("no TLS handshake within {timeout:?}"),
                })
            }
        };
        let (_, session) = stream.get_ref();
        let (chain, verification) = seen.unwrap_or_else(|| {
            (
                Vec::new(),
                Err("the server presented no certificate".into()),
            )
        });
        let observation = TlsObservation {
            host,
            version: session
                .protocol_version()
                .and_then(|v| v.as_str())
                .unwrap_or("unknown")
                .replace('_', "."),
            alpn: session
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            chain: chain.iter().map(|c| summarize(c)).collect(),
        };
        Probe::Handshake(observation, verification)
    }
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Config(format!("cannot read CA file {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("CA file {} is not PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "CA file {} holds no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}

/// What a handshake showed.
#[derive(Debug)]
pub enum Probe {
    /// The handshake completed; the anchors' verdict on the chain (Err: why they refuse it).
    Handshake(TlsObservation, Result<(), String>),
    /// TCP connected but no TLS session came about.
    HandshakeFailed(HandshakeFailure),
    /// No TCP connection (or no usable URL).
    Unreachable(String),
}

#[derive(Debug, Clone)]
pub struct HandshakeFailure {
    /// The harness's TLS stack cannot talk to the target (not the target's fault).
    pub harness_limit: bool,
    pub reason: String,
}

/// What the target presented, for the report header.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TlsObservation {
    pub host: String,
    /// e.g. `TLSv1.3`.
    pub version: String,
    /// The ALPN protocol the server chose (`h2`, `http/1.1`), if any.
    pub alpn: Option<String>,
    /// Leaf first.
    pub chain: Vec<CertSummary>,
}

/// One certificate of a chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub names: Vec<String>,
    pub not_before: String,
    pub not_after: String,
}

impl std::fmt::Display for CertSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subject `{}`, issuer `{}`, names [{}], valid {} to {}",
            self.subject,
            self.issuer,
            self.names.join(", "),
            self.not_before,
            self.not_after
        )
    }
}

fn summarize(der: &CertificateDer<'_>) -> CertSummary {
    use x509_parser::prelude::*;
    match X509Certificate::from_der(der.as_ref()) {
        Ok((_, cert)) => {
            let names = cert
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|san| {
                    san.value
                        .general_names
                        .iter()
                        .filter_map(|n| match n {
                            GeneralName::DNSName(d) => Some((*d).to_owned()),
                            GeneralName::IPAddress(ip) => ip_text(ip),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            CertSummary {
                subject: cert.subject().to_string(),
                issuer: cert.issuer().to_string(),
                names,
                not_before: cert.validity().not_before.to_string(),
                not_after: cert.validity().not_after.to_string(),
            }
        }
        Err(e) => CertSummary {
            subject: format!("<not an X.509 certificate: {e}>"),
            issuer: String::new(),
            names: Vec::new(),
            not_before: String::new(),
            not_after: String::new(),
        },
    }
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

/// Why the anchors refuse a chain, in words a person can act on.
fn refusal(error: &rustls::Error, host: &str) -> String {
    match error {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "the chain does not lead to a trusted root (unknown issuer): add the target's CA to ca_certs".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the certificate is not issued for `{host}` ({c})")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("the certificate has expired ({c})")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("the certificate is not valid yet ({c})")
            }
            CertificateError::Revoked => "the certificate is revoked".into(),
            other => format!("the certificate is refused: {other}"),
        },
        other => format!("the certificate is refused: {other}"),
    }
}

fn classify(error: &std::io::Error) -> HandshakeFailure {
    let tls = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        // Nothing in common with the target: rustls offers TLS 1.2 and 1.3 with the usual
        // suites and schemes, so this is where the harness, not the target, may be the limit.
        Some(rustls::Error::PeerIncompatible(why)) => HandshakeFailure {
            harness_limit: true,
            reason: format!("the harness's TLS stack (rustls, TLS 1.2/1.3) and the target share no parameters: {why:?}"),
        },
        Some(e) => HandshakeFailure {
            harness_limit: false,
            reason: format!("TLS handshake failed: {e}"),
        },
        None => HandshakeFailure {
            harness_limit: false,
            reason: format!("TLS handshake failed (is it a TLS server?): {error}"),
        },
    }
}

/// Accepts any chain for any name, checking handshake signatures with WebPKI's algorithms. Two
/// uses: `insecure_skip_verify = true` (nothing recorded), and the probe, which also records the
/// chain and the anchors' verdict and lets the handshake finish so it learns the version and ALPN
/// too (nothing is sent on that connection).
#[derive(Debug)]
struct Lenient {
    inner: Arc<WebPkiServerVerifier>,
    /// Some: record what the server presented and what the anchors say of it.
    seen: Option<Mutex<Option<Seen>>>,
}

/// The chain a server presented (leaf first) and the anchors' verdict on it.
type Seen = (Vec<CertificateDer<'static>>, Result<(), String>);

impl Lenient {
    fn take_seen(&self) -> Option<Seen> {
        self.seen
            .as_ref()
            .and_then(|m| m.lock().unwrap_or_else(|p| p.into_inner()).take())
    }
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(seen) = &self.seen {
            let verdict = self
                .inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map(|_| ())
                .map_err(|e| refusal(&e, &server_name.to_str()));
            let chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
            *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some((chain, verdict));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
