//! Real MLS clients (openmls) whose credentials are the ID-Certs the target issued, and the
//! harness's own derivation of the JSON summary of a KeyPackage (PROFILE.keypackage-summary).
//!
//! The summary is computed here independently of the reference server's code: if both shared
//! one function, a wrong field would pass on both sides.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::Signer as _;
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_traits::signatures::{Signer, SignerError};
use openmls_traits::types::SignatureScheme;
use p2mls_protocol::identifiers::{format_code_point, format_version};
use p2mls_protocol::suites::SuiteRegistry;
use p2mls_protocol::wire;
use serde_json::{json, Value};

use crate::clients::provider::{Backend, Provider};

/// An Ed25519 identity key acting as openmls signer.
pub struct IdentityKey(pub ed25519_dalek::SigningKey);

impl Signer for IdentityKey {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(self.0.sign(payload).to_bytes().to_vec())
    }

    fn signature_scheme(&self) -> SignatureScheme {
        SignatureScheme::ED25519
    }
}

/// Options for a KeyPackage the harness builds (some deliberately faulty).
#[derive(Debug, Clone, Default)]
pub struct KeyPackageOptions {
    pub last_resort: bool,
    /// Raw (not_before, not_after) UNIX seconds; None: openmls's default lifetime.
    pub lifetime: Option<(u64, u64)>,
    /// Use this DER certificate in the credential instead of the actor's own ID-Cert.
    pub certificate: Option<Vec<u8>>,
}

/// One MLS client of an actor session.
pub struct MlsClient {
    pub provider: Provider,
    pub key: IdentityKey,
    pub cert_der: Vec<u8>,
}

/// Capabilities our clients advertise: the suite in use, X.509 credentials, and the
/// last_resort extension (a package carrying it must list it, RFC 9420 §10.1).
pub fn capabilities(suite: Ciphersuite) -> Capabilities {
    Capabilities::new(
        None,
        Some(&[suite]),
        Some(&[ExtensionType::LastResort]),
        None,
        Some(&[CredentialType::X509, CredentialType::Basic]),
    )
}

impl MlsClient {
    /// A client on openmls_rust_crypto.
    pub fn new(key: ed25519_dalek::SigningKey, cert_der: Vec<u8>) -> Self {
        Self::with_backend(key, cert_der, Backend::RustCrypto)
            .unwrap_or_else(|_| unreachable!("RustCrypto construction cannot fail"))
    }

    /// A client on the given crypto back end (libcrux checks CPU features and may refuse).
    pub fn with_backend(
        key: ed25519_dalek::SigningKey,
        cert_der: Vec<u8>,
        backend: Backend,
    ) -> Result<Self, openmls_traits::types::CryptoError> {
        Ok(Self {
            provider: Provider::new(backend)?,
            key: IdentityKey(key),
            cert_der,
        })
    }

    pub fn credential(&self, cert: Option<&[u8]>) -> CredentialWithKey {
        let cert = cert.unwrap_or(&self.cert_der).to_vec();
        CredentialWithKey {
            credential: Credential::new(CredentialType::X509, wire::encode_x509_chain(&[cert])),
            signature_key: self.key.0.verifying_key().to_bytes().to_vec().into(),
        }
    }

    /// Builds a KeyPackage and returns its MLSMessage bytes.
    pub fn key_package(
        &self,
        suite: Ciphersuite,
        options: &KeyPackageOptions,
    ) -> anyhow::Result<Vec<u8>> {
        let mut builder = KeyPackage::builder().leaf_node_capabilities(capabilities(suite));
        if options.last_resort {
            builder = builder.mark_as_last_resort();
        }
        if let Some((not_before, not_after)) = options.lifetime {
            let mut raw = not_before.to_be_bytes().to_vec();
            raw.extend(not_after.to_be_bytes());
            let lifetime = Lifetime::tls_deserialize_exact(&raw)?;
            builder = builder.key_package_lifetime(lifetime);
        }
        let bundle = builder.build(
            suite,
            &self.provider,
            &self.key,
            self.credential(options.certificate.as_deref()),
        )?;
        let message = MlsMessageOut::from(bundle.key_package().clone());
        Ok(message.tls_serialize_detached()?)
    }
}

/// Decodes a KeyPackage MLSMessage without validating it.
pub fn decode_key_package(bytes: &[u8]) -> anyhow::Result<KeyPackageIn> {
    match MlsMessageIn::tls_deserialize_exact(bytes)?.extract() {
        MlsMessageBodyIn::KeyPackage(kp) => Ok(kp),
        _ => anyhow::bail!("not a KeyPackage message"),
    }
}

/// The JSON object for a KeyPackage MLSMessage, per PROFILE.keypackage-summary.
pub fn key_package_json(bytes: &[u8], registry: &SuiteRegistry) -> anyhow::Result<Value> {
    let crypto = openmls_rust_crypto::RustCrypto::default();
    // Validation is off on purpose: the harness also describes packages it made faulty.
    let kp_in = decode_key_package(bytes)?;
    let kp = validate_unchecked(kp_in, &crypto)?;
    let caps = kp.leaf_node().capabilities();
    let (_, signature) = wire::split_trailing_opaque(bytes, 64)
        .ok_or_else(|| anyhow::anyhow!("KeyPackage signature is not 64 bytes"))?;
    Ok(json!({
        "id": hex::encode(kp.hash_ref(&crypto)?.as_slice()),
        "publicKey": B64.encode(kp.hpke_init_key().as_slice()),
        "capabilities": {
            "versions": caps.versions().iter().map(|v| format_version(match v {
                ProtocolVersion::Mls10 => 1,
                ProtocolVersion::Other(x) => *x,
            })).collect::<Vec<_>>(),
            "ciphersuites": caps.ciphersuites().iter()
                .map(|c| format_code_point(registry.polyproto_id_for_wire(c.value())))
                .collect::<Vec<_>>(),
            "extensions": caps.extensions().iter().map(|e| format_code_point(u16::from(*e))).collect::<Vec<_>>(),
        },
        "signature": B64.encode(signature),
        "lastResort": kp.last_resort(),
        "mlsMessage": B64.encode(bytes),
    }))
}

/// Reads a KeyPackage's fields without verifying it: the harness also describes packages it
/// made faulty on purpose (openmls feature `unchecked-conversions`).
fn validate_unchecked(
    kp_in: KeyPackageIn,
    crypto: &openmls_rust_crypto::RustCrypto,
) -> anyhow::Result<KeyPackage> {
    let _ = crypto;
    Ok(kp_in.into_unchecked())
}
