//! What the AS/DS checks in MLS bytes it receives: KeyPackages fully (openmls validation, the
//! ID-Cert credential, the JSON summary), proposals and commits by their public framing (the DS
//! holds no group secrets, so it checks wire format, group, epoch, sender and the signature field
//! of the JSON against the bytes).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::{
    CredentialType, KeyPackageIn, KeyPackageVerifyError, MlsMessageBodyIn, MlsMessageIn,
    ProtocolVersion,
};
use openmls_rust_crypto::RustCrypto;
use p2mls_protocol::idcert::{verify_actor_cert, ActorName};
use p2mls_protocol::identifiers::{
    format_code_point, format_version, parse_code_point, parse_version,
};
use p2mls_protocol::suites::SuiteRegistry;

use p2mls_protocol::wire;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::faults::Fault;

/// Ed25519 signature length: both required suites sign with Ed25519.
pub const SIGNATURE_LEN: usize = 64;
/// SHA-256 output length: both required suites hash with SHA-256 (MACs and tags).
pub const HASH_LEN: usize = 32;

/// Client capabilities as written in JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct CapabilitiesBody {
    pub versions: Vec<String>,
    pub ciphersuites: Vec<String>,
    pub extensions: Vec<String>,
}

/// A KeyPackage JSON object as a client submits it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPackageBody {
    pub id: String,
    pub public_key: String,
    pub capabilities: CapabilitiesBody,
    pub signature: String,
    pub last_resort: bool,
    pub mls_message: Option<String>,
}

/// A KeyPackage that passed every check, with what storage and discovery need.
#[derive(Debug, Clone)]
pub struct ValidKeyPackage {
    pub id: String,
    pub owner: ActorName,
    pub signature_key: Vec<u8>,
    /// polyproto suite identifier.
    pub suite: u16,
    pub version: u16,
    pub extensions: Vec<u16>,
    pub last_resort: bool,
    /// The JSON summary (as the server computed it) plus `mlsMessage`.
    pub json: Value,
}

/// Server-wide context for MLS checks.
pub struct MlsContext {
    pub registry: SuiteRegistry,
    pub server_cert_der: Vec<u8>,
    crypto: RustCrypto,
    /// Deliberate faults in the AS checks (see `faults`).
    faults: Vec<Fault>,
}

impl MlsContext {
    pub fn new(registry: SuiteRegistry, server_cert_der: Vec<u8>, faults: Vec<Fault>) -> Self {
        Self {
            registry,
            server_cert_der,
            crypto: RustCrypto::default(),
            faults,
        }
    }

    /// The `accept-malleable-signatures` fault: whether the KeyPackage MLSMessage validates once
    /// its signature's S (the last 32 bytes) is reduced modulo L, as a lax verifier reads it.
    fn valid_once_reduced(&self, message_bytes: &[u8]) -> bool {
        let Some(split) = message_bytes.len().checked_sub(32) else {
            return false;
        };
        let mut s = [0u8; 32];
        s.copy_from_slice(&message_bytes[split..]);
        let reduced = curve25519_dalek::scalar::Scalar::from_bytes_mod_order(s).to_bytes();
        if reduced == s {
            return false;
        }
        let mut bytes = message_bytes.to_vec();
        bytes[split..].copy_from_slice(&reduced);
        match MlsMessageIn::tls_deserialize_exact(&bytes).map(|m| m.extract()) {
            Ok(MlsMessageBodyIn::KeyPackage(kp)) => {
                kp.validate(&self.crypto, ProtocolVersion::Mls10).is_ok()
            }
            _ => false,
        }
    }

    pub fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    /// Full AS check of one KeyPackage; the error is the reason reported to the client.
    pub fn check_key_package(&self, body: &KeyPackageBody) -> Result<ValidKeyPackage, String> {
        if !(8..=128).contains(&body.id.chars().count()) {
            return Err("id must be 8 to 128 characters".into());
        }
        let encoded = body
            .mls_message
            .as_deref()
            .ok_or("mlsMessage is missing (PROFILE.mls-message-field)")?;
        let bytes = B64
            .decode(encoded)
            .map_err(|e| format!("mlsMessage is not base64: {e}"))?;
        let message = MlsMessageIn::tls_deserialize_exact(&bytes)
            .map_err(|e| format!("mlsMessage is not an MLSMessage: {e}"))?;
        let key_package_in = match message.extract() {
            MlsMessageBodyIn::KeyPackage(kp) => kp,
            _ => return Err("mlsMessage does not carry a KeyPackage".into()),
        };
        self.check_key_package_in(key_package_in, &bytes, body, encoded)
    }

    /// Checks a KeyPackage found inside another message (an Add proposal) against its JSON.
    pub fn check_embedded_key_package(
        &self,
        kp_bytes: &[u8],
        body: &KeyPackageBody,
    ) -> Result<ValidKeyPackage, String> {
        let mut reader = kp_bytes;
        let key_package_in = KeyPackageIn::tls_deserialize(&mut reader)
            .map_err(|e| format!("embedded KeyPackage does not decode: {e}"))?;
        let consumed = kp_bytes.len() - reader.len();
        let mut message = vec![0, 1, 0, 5];
        message.extend_from_slice(&kp_bytes[..consumed]);
        let encoded = B64.encode(&message);
        if body.mls_message.as_deref().is_some_and(|m| m != encoded) {
            return Err("keyPackage.mlsMessage differs from the package in the proposal".into());
        }
        self.check_key_package_in(key_package_in, &message, body, &encoded)
    }

    fn check_key_package_in(
        &self,
        key_package_in: KeyPackageIn,
        message_bytes: &[u8],
        body: &KeyPackageBody,
        encoded: &str,
    ) -> Result<ValidKeyPackage, String> {
        let key_package = match key_package_in
            .clone()
            .validate(&self.crypto, ProtocolVersion::Mls10)
        {
            Ok(kp) => kp,
            Err(
                KeyPackageVerifyError::InvalidSignature
                | KeyPackageVerifyError::InvalidLeafNodeSignature,
            ) if self.has(Fault::AcceptBadSignature) => key_package_in.into_unchecked(),
            Err(KeyPackageVerifyError::InvalidSignature)
                if self.has(Fault::AcceptMalleableSignatures)
                    && self.valid_once_reduced(message_bytes) =>
            {
                key_package_in.into_unchecked()
            }
            Err(KeyPackageVerifyError::LifetimeError(_)) if self.has(Fault::AcceptExpired) => {
                key_package_in.into_unchecked()
            }
            Err(KeyPackageVerifyError::UnsupportedExtension) => grease_tolerant(key_package_in)
                .map_err(|e| format!("KeyPackage is invalid: {e}"))?,
            Err(e) => return Err(format!("KeyPackage is invalid: {e}")),
        };
        if self.has(Fault::RefuseUnknownExtensions) {
            let caps = key_package.leaf_node().capabilities();
            let used = key_package
                .extensions()
                .iter()
                .chain(key_package.leaf_node().extensions().iter())
                .map(|e| u16::from(e.extension_type()));
            if let Some(unknown) = caps
                .extensions()
                .iter()
                .map(|e| u16::from(*e))
                .chain(used)
                .find(|t| !KNOWN_EXTENSION_TYPES.contains(t))
            {
                return Err(format!(
                    "extension type {} is not supported",
                    format_code_point(unknown)
                ));
            }
        }
        let wire_suite = u16::from(key_package.ciphersuite());
        let unknown_suite = p2mls_protocol::suites::Suite {
            polyproto_id: wire_suite,
            wire: wire_suite,
            name: "outside the registry",
        };
        let suite = self
            .registry
            .by_wire(wire_suite)
            .or_else(|| self.has(Fault::AcceptUnknownSuite).then_some(unknown_suite))
            .ok_or_else(|| {
                format!(
                    "cipher suite {} is not supported",
                    format_code_point(wire_suite)
                )
            })?;

        // The JSON summary must agree with the bytes (PROFILE.keypackage-summary).
        let id = hex::encode(
            key_package
                .hash_ref(&self.crypto)
                .map_err(|e| format!("cannot compute KeyPackageRef: {e}"))?
                .as_slice(),
        );
        let public_key = B64.encode(key_package.hpke_init_key().as_slice());
        let (_, signature) = wire::split_trailing_opaque(message_bytes, SIGNATURE_LEN)
            .ok_or("KeyPackage signature is not an Ed25519 signature")?;
        let signature = B64.encode(signature);
        let caps = key_package.leaf_node().capabilities();
        let versions: Vec<u16> = caps
            .versions()
            .iter()
            .map(|v| match v {
                ProtocolVersion::Mls10 => 1,
                ProtocolVersion::Other(x) => *x,
            })
            .collect();
        let suites: Vec<u16> = caps
            .ciphersuites()
            .iter()
            .map(|c| self.registry.polyproto_id_for_wire(c.value()))
            .collect();
        let extensions: Vec<u16> = caps.extensions().iter().map(|e| u16::from(*e)).collect();
        let tolerate = self.has(Fault::AcceptSummaryMismatch);
        let mismatch = |field: &str| format!("{field} does not agree with mlsMessage");
        if !tolerate && body.id != id {
            return Err(mismatch("id"));
        }
        if !tolerate && body.public_key != public_key {
            return Err(mismatch("publicKey"));
        }
        if !tolerate && body.signature != signature {
            return Err(mismatch("signature"));
        }
        if !tolerate && body.last_resort != key_package.last_resort() {
            return Err(mismatch("lastResort"));
        }
        let parsed_versions: Result<Vec<u16>, _> = body
            .capabilities
            .versions
            .iter()
            .map(|v| parse_version(v))
            .collect();
        let parsed_suites: Result<Vec<u16>, _> = body
            .capabilities
            .ciphersuites
            .iter()
            .map(|v| parse_code_point(v))
            .collect();
        let parsed_extensions: Result<Vec<u16>, _> = body
            .capabilities
            .extensions
            .iter()
            .map(|v| parse_code_point(v))
            .collect();
        if !tolerate && parsed_versions.map_err(|e| e.to_string())? != versions {
            return Err(mismatch("capabilities.versions"));
        }
        if !tolerate && parsed_suites.map_err(|e| e.to_string())? != suites {
            return Err(mismatch("capabilities.ciphersuites"));
        }
        if !tolerate && parsed_extensions.map_err(|e| e.to_string())? != extensions {
            return Err(mismatch("capabilities.extensions"));
        }

        // The credential must be an ID-Cert we issued, for this very signature key.
        let credential = key_package.leaf_node().credential();
        if credential.credential_type() != CredentialType::X509 {
            return Err("credential is not an X.509 credential".into());
        }
        let chain = self
            .x509_chain(credential.serialized_content())
            .map_err(|e| format!("X.509 credential does not decode: {e}"))?;
        let leaf = chain
            .first()
            .ok_or("X.509 credential holds no certificate")?;
        // Fault: verify the certificate against itself, so any issuer passes.
        let issuer = if self.has(Fault::AcceptForeignCredential) {
            leaf.as_slice()
        } else {
            self.server_cert_der.as_slice()
        };
        let info = verify_actor_cert(leaf, issuer)
            .or_else(|e| {
                if self.has(Fault::AcceptForeignCredential) {
                    p2mls_protocol::idcert::actor_name_of(leaf).map(|name| {
                        p2mls_protocol::idcert::IdCertInfo {
                            name,
                            public_key: key_package.leaf_node().signature_key().as_slice().to_vec(),
                            issuer_domain: String::new(),
                            is_ca: false,
                            not_before: 0,
                            not_after: i64::MAX,
                        }
                    })
                } else {
                    Err(e)
                }
            })
            .map_err(|e| format!("credential is not an ID-Cert issued by this server: {e}"))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if now < info.not_before || now > info.not_after {
            return Err("credential's ID-Cert is outside its validity period".into());
        }
        let signature_key = key_package.leaf_node().signature_key().as_slice().to_vec();
        if info.public_key != signature_key {
            return Err(
                "credential's ID-Cert is for another key than the leaf signature key".into(),
            );
        }

        let json = json!({
            "id": id,
            "publicKey": public_key,
            "capabilities": {
                "versions": versions.iter().map(|v| format_version(*v)).collect::<Vec<_>>(),
                "ciphersuites": suites.iter().map(|v| format_code_point(*v)).collect::<Vec<_>>(),
                "extensions": extensions.iter().map(|v| format_code_point(*v)).collect::<Vec<_>>(),
            },
            "signature": signature,
            "lastResort": key_package.last_resort(),
            "mlsMessage": encoded,
        });
        // Keep the serialisation in sync with what we verified (no re-encoding drift).
        debug_assert_eq!(
            key_package
                .tls_serialize_detached()
                .map(|b| b.len())
                .unwrap_or(0)
                + 4,
            message_bytes.len()
        );
        Ok(ValidKeyPackage {
            id,
            owner: info.name,
            signature_key,
            suite: suite.polyproto_id,
            version: 1,
            extensions,
            last_resort: key_package.last_resort(),
            json,
        })
    }
}

impl MlsContext {
    /// The DER certificates of an X.509 credential, leaf first, read as RFC 9420 §5.3 writes
    /// them (or, under a fault, as the server read them before issue 14).
    fn x509_chain(&self, content: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
        if self.has(Fault::X509ExtraPrefix) {
            return read_x509_chain_extra_prefix(content);
        }
        let chain = read_x509_chain(content);
        let leaf_parses = chain
            .as_ref()
            .ok()
            .and_then(|c| c.first())
            .is_some_and(|der| p2mls_protocol::idcert::actor_name_of(der).is_ok());
        if self.has(Fault::X509EitherPrefix) && !leaf_parses {
            return read_x509_chain_extra_prefix(content);
        }
        chain
    }
}

/// Reads the content of an X.509 credential (RFC 9420 §5.3):
///
/// ```text
/// struct { opaque cert_data<V>; } Certificate;
/// case x509: Certificate certificates<V>;
/// ```
///
/// openmls keeps a credential's content as the bytes inside the `certificates<V>` vector (its
/// `Credential` writes that length prefix itself), so `content` is a run of `cert_data<V>`
/// entries, each a variable-length integer (RFC 9420 §2.1.2) and that many DER bytes, to the end.
pub fn read_x509_chain(content: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut rest = content;
    let mut chain = Vec::new();
    while !rest.is_empty() {
        let (len, used) = read_varint(rest)?;
        let end = used
            .checked_add(len)
            .filter(|end| *end <= rest.len())
            .ok_or("message ends early while reading cert_data")?;
        chain.push(rest[used..end].to_vec());
        rest = &rest[end..];
    }
    Ok(chain)
}

/// The form before issue 14 (fault `x509-extra-prefix`): one more length prefix around the list.
fn read_x509_chain_extra_prefix(content: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let (len, used) = read_varint(content)?;
    let list = content
        .get(used..)
        .filter(|list| list.len() == len)
        .ok_or("message ends early while reading certificates")?;
    read_x509_chain(list)
}

/// An RFC 9420 §2.1.2 variable-length integer: (value, bytes used).
fn read_varint(bytes: &[u8]) -> Result<(usize, usize), &'static str> {
    let first = *bytes
        .first()
        .ok_or("message ends early while reading a length")?;
    let used = match first >> 6 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => return Err("invalid variable-length integer prefix"),
    };
    let raw = bytes
        .get(..used)
        .ok_or("message ends early while reading a length")?;
    Ok((
        raw[1..]
            .iter()
            .fold(usize::from(first & 0x3F), |v, b| (v << 8) | usize::from(*b)),
        used,
    ))
}

/// Lowercase hex SHA-256: the id of proposals and commits (PROFILE.proposal-summary).
/// The extension types of RFC 9420 §17.3 and last_resort (for the `refuse-unknown-extensions`
/// fault only: a sound DS ignores types it does not know, RFC 9420 §13.5).
const KNOWN_EXTENSION_TYPES: [u16; 6] = [0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x000A];

/// Finishes the validation of a KeyPackage openmls refused only for its extensions.
///
/// openmls 0.9.2 reads a GREASE value (RFC 9420 §13.5) in `KeyPackage.extensions` as an unknown
/// type and the same value in `capabilities.extensions` as a GREASE type, and never matches the
/// two: a KeyPackage that lists its GREASE extension, as §10.1 requires, is refused with
/// `UnsupportedExtension`. That check comes after both signatures, the version and the init
/// key; here the extension types are compared by code point, then the lifetime is checked.
fn grease_tolerant(key_package_in: KeyPackageIn) -> Result<openmls::prelude::KeyPackage, String> {
    let key_package = key_package_in.into_unchecked();
    let listed: Vec<u16> = key_package
        .leaf_node()
        .capabilities()
        .extensions()
        .iter()
        .map(|e| u16::from(*e))
        .collect();
    for extension in key_package.extensions().iter() {
        let kind = u16::from(extension.extension_type());
        let default_type = (0x0001..=0x0005).contains(&kind);
        if !default_type && !listed.contains(&kind) {
            return Err(format!(
                "extension {} is not in the leaf node's capabilities",
                format_code_point(kind)
            ));
        }
    }
    key_package
        .life_time()
        .validate()
        .map_err(|e| format!("lifetime: {e}"))?;
    Ok(key_package)
}

pub fn message_id(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// RFC 9420 ProposalType names as the OpenAPI enum writes them.
pub fn proposal_type_name(value: u16) -> Option<&'static str> {
    Some(match value {
        1 => "Add",
        2 => "Update",
        3 => "Remove",
        4 => "PreSharedKey",
        5 => "ReInit",
        6 => "ExternalInit",
        7 => "GroupContextExtensions",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use openmls::prelude::tls_codec::Deserialize as _;
    use openmls::prelude::{Credential, CredentialType};

    use super::read_x509_chain;

    /// Two stand-in certificates (the reader does not parse DER): 3 and 300 bytes.
    fn certs() -> (Vec<u8>, Vec<u8>) {
        (vec![0x30, 0x01, 0x00], vec![0xC5; 300])
    }

    /// An X.509 Credential written out by hand from RFC 9420 §5.3 and §2.1.2, sharing no code
    /// with the server or the harness:
    ///
    /// ```text
    /// uint16 credential_type = x509 (2)
    /// Certificate certificates<V>   -- varint length of the list, then the list
    ///   opaque cert_data<V>         -- varint length 3 (one byte: 0x03), 3 bytes
    ///   opaque cert_data<V>         -- varint length 300 (two bytes: 0x41 0x2C), 300 bytes
    /// ```
    ///
    /// The list is 1 + 3 + 2 + 300 = 306 bytes: varint 0x41 0x32.
    fn rfc_credential() -> Vec<u8> {
        let (a, b) = certs();
        let mut bytes = vec![0x00, 0x02, 0x41, 0x32, 0x03];
        bytes.extend(&a);
        bytes.extend([0x41, 0x2C]);
        bytes.extend(&b);
        assert_eq!(bytes.len(), 4 + 306);
        bytes
    }

    #[test]
    fn reads_the_rfc_9420_x509_credential_written_by_hand() {
        let credential = Credential::tls_deserialize_exact(rfc_credential()).expect("credential");
        assert_eq!(credential.credential_type(), CredentialType::X509);
        let (a, b) = certs();
        assert_eq!(
            read_x509_chain(credential.serialized_content()),
            Ok(vec![a, b])
        );
    }

    #[test]
    fn an_extra_length_prefix_is_not_read_as_the_chain() {
        let (a, b) = certs();
        let rfc = rfc_credential();
        // The pre-issue-14 form: the list's length once more inside the credential's content.
        let mut content = vec![0x41, 0x32];
        content.extend(&rfc[4..]);
        assert_ne!(read_x509_chain(&content), Ok(vec![a, b]));
        assert!(read_x509_chain(&[0x05, 0x01]).is_err());
        assert!(read_x509_chain(&[0xC0]).is_err());
    }
}
