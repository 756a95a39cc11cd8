//! Real MLS clients (openmls) whose credentials are the ID-Certs the target issued, and the
//! harness's own derivation of the JSON summary of a KeyPackage (PROFILE.keypackage-summary).
//!
//! The summary is computed here independently of the reference server's code: if both shared
//! one function, a wrong field would pass on both sides.

use crate::Error;
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
    /// Use these bytes as the X.509 credential's content (what follows the `certificates<V>`
    /// length prefix) instead of encoding the certificate.
    pub credential_content: Option<Vec<u8>>,
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
        self.credential_with_content(x509_credential_content(&[cert]))
    }

    /// An X.509 credential with the given content (see `x509_credential_content`).
    pub fn credential_with_content(&self, content: Vec<u8>) -> CredentialWithKey {
        CredentialWithKey {
            credential: Credential::new(CredentialType::X509, content),
            signature_key: self.key.0.verifying_key().to_bytes().to_vec().into(),
        }
    }

    /// Builds a KeyPackage with GREASE values (RFC 9420 §13.5): one in each list of the leaf's
    /// capabilities (cipher suites, extensions, proposals, credentials) and an empty extension
    /// of the GREASE type listed there in the KeyPackage's extensions. Returns the MLSMessage
    /// bytes and the GREASE values used.
    pub fn greased_key_package(&self, suite: Ciphersuite) -> Result<(Vec<u8>, Vec<u16>), Error> {
        let capabilities = Capabilities::builder()
            .ciphersuites(vec![suite])
            .extensions(vec![ExtensionType::LastResort])
            .credentials(vec![CredentialType::X509, CredentialType::Basic])
            .with_grease(self.provider.rand())
            .build();
        let extension = capabilities
            .extensions()
            .iter()
            .map(|e| u16::from(*e))
            .find(|e| is_grease(*e))
            .ok_or_else(|| Error::Engine("openmls added no GREASE extension type".into()))?;
        let mut grease: Vec<u16> = capabilities
            .ciphersuites()
            .iter()
            .map(|c| c.value())
            .chain(capabilities.proposals().iter().map(|p| u16::from(*p)))
            .chain(capabilities.credentials().iter().map(|c| u16::from(*c)))
            .chain([extension])
            .filter(|v| is_grease(*v))
            .collect();
        grease.sort_unstable();
        let bundle = KeyPackage::builder()
            .leaf_node_capabilities(capabilities)
            .key_package_extensions(
                Extensions::single(Extension::Unknown(extension, UnknownExtension(Vec::new())))
                    .map_err(Error::engine)?,
            )
            .build(suite, &self.provider, &self.key, self.credential(None))
            .map_err(Error::engine)?;
        let message = MlsMessageOut::from(bundle.key_package().clone());
        Ok((
            message.tls_serialize_detached().map_err(Error::engine)?,
            grease,
        ))
    }

    /// Builds a KeyPackage and returns its MLSMessage bytes.
    pub fn key_package(
        &self,
        suite: Ciphersuite,
        options: &KeyPackageOptions,
    ) -> Result<Vec<u8>, Error> {
        let mut builder = KeyPackage::builder().leaf_node_capabilities(capabilities(suite));
        if options.last_resort {
            builder = builder.mark_as_last_resort();
        }
        if let Some((not_before, not_after)) = options.lifetime {
            let mut raw = not_before.to_be_bytes().to_vec();
            raw.extend(not_after.to_be_bytes());
            let lifetime = Lifetime::tls_deserialize_exact(&raw).map_err(Error::engine)?;
            builder = builder.key_package_lifetime(lifetime);
        }
        let credential = match &options.credential_content {
            Some(content) => self.credential_with_content(content.clone()),
            None => self.credential(options.certificate.as_deref()),
        };
        let bundle = builder
            .build(suite, &self.provider, &self.key, credential)
            .map_err(Error::engine)?;
        let message = MlsMessageOut::from(bundle.key_package().clone());
        message.tls_serialize_detached().map_err(Error::engine)
    }
}

/// The content of an X.509 credential (RFC 9420 §5.3) for DER certificates, leaf first:
///
/// ```text
/// struct { opaque cert_data<V>; } Certificate;
/// case x509: Certificate certificates<V>;
/// ```
///
/// openmls's `Credential` writes the `certificates<V>` length prefix around the content itself,
/// so the content is the run of `cert_data<V>` entries and nothing else. The harness's own code:
/// the reference server reads credentials with its own reader, so one wrong prefix cannot pass
/// on both sides (docs/DESIGN.md).
pub fn x509_credential_content(chain: &[Vec<u8>]) -> Vec<u8> {
    let mut content = Vec::new();
    for cert in chain {
        content.extend(varint(cert.len()));
        content.extend(cert);
    }
    content
}

/// The DER certificates of an X.509 credential's content, leaf first (the inverse of
/// `x509_credential_content`); None when the content is not a run of `cert_data<V>`.
pub fn x509_chain_of(content: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut rest = content;
    let mut chain = Vec::new();
    while let Some(&first) = rest.first() {
        let used = [1usize, 2, 4].get(usize::from(first >> 6)).copied()?;
        let prefix = rest.get(..used)?;
        let len = prefix[1..]
            .iter()
            .fold(usize::from(first & 0x3F), |v, b| (v << 8) | usize::from(*b));
        chain.push(rest.get(used..used.checked_add(len)?)?.to_vec());
        rest = &rest[used + len..];
    }
    Some(chain)
}

/// An RFC 9420 §2.1.2 variable-length integer in its shortest form (lengths below 2^30).
pub(crate) fn varint(len: usize) -> Vec<u8> {
    match len {
        0..=0x3F => vec![len as u8],
        0x40..=0x3FFF => vec![0x40 | (len >> 8) as u8, len as u8],
        _ => (0x8000_0000 | len as u32).to_be_bytes().to_vec(),
    }
}

/// Whether a code point is one of RFC 9420's GREASE values (0x0A0A, 0x1A1A, ..., 0xEAEA).
pub fn is_grease(value: u16) -> bool {
    value & 0x0F0F == 0x0A0A && (value >> 12) == ((value >> 4) & 0x0F) && value != 0xFAFA
}

/// The harness's KeyPackage validation (RFC 9420 §10.1) on openmls, with GREASE handled.
///
/// openmls 0.9.2 reads a GREASE value in a KeyPackage's `extensions` as an unknown extension
/// type but the same value in `capabilities.extensions` as a GREASE type, and then never finds
/// the one in the other: it refuses every KeyPackage that lists its GREASE extension as §10.1
/// asks with `UnsupportedExtension`. That check is openmls's last but one, after both
/// signatures, the version and the init key; so on that error the harness compares the
/// extension types by their code points itself and then checks the lifetime, as openmls would.
pub fn validate_key_package(
    kp_in: KeyPackageIn,
    crypto: &impl openmls_traits::crypto::OpenMlsCrypto,
) -> Result<KeyPackage, Error> {
    match kp_in.clone().validate(crypto, ProtocolVersion::Mls10) {
        Ok(kp) => Ok(kp),
        Err(KeyPackageVerifyError::UnsupportedExtension) => {
            let kp = kp_in.into_unchecked();
            let listed: Vec<u16> = kp
                .leaf_node()
                .capabilities()
                .extensions()
                .iter()
                .map(|e| u16::from(*e))
                .collect();
            for extension in kp.extensions().iter() {
                let kind = u16::from(extension.extension_type());
                // RFC 9420 §7.2: the default extension types need not be listed.
                if !(1..=5).contains(&kind) && !listed.contains(&kind) {
                    return Err(Error::Malformed(format!(
                        "extension type {} is not in the leaf's capabilities",
                        format_code_point(kind)
                    )));
                }
            }
            kp.life_time()
                .validate()
                .map_err(|e| Error::Malformed(format!("lifetime: {e}")))?;
            Ok(kp)
        }
        Err(e) => Err(Error::Malformed(e.to_string())),
    }
}

/// Decodes a KeyPackage MLSMessage without validating it.
pub fn decode_key_package(bytes: &[u8]) -> Result<KeyPackageIn, Error> {
    match MlsMessageIn::tls_deserialize_exact(bytes)
        .map_err(Error::malformed)?
        .extract()
    {
        MlsMessageBodyIn::KeyPackage(kp) => Ok(kp),
        _ => Err(Error::Malformed("not a KeyPackage message".into())),
    }
}

/// The JSON object for a KeyPackage MLSMessage, per PROFILE.keypackage-summary.
pub fn key_package_json(bytes: &[u8], registry: &SuiteRegistry) -> Result<Value, Error> {
    let crypto = openmls_rust_crypto::RustCrypto::default();
    // Validation is off on purpose (openmls feature `unchecked-conversions`): the harness also
    // describes packages it made faulty.
    let kp_in = decode_key_package(bytes)?;
    let kp = kp_in.into_unchecked();
    let caps = kp.leaf_node().capabilities();
    let (_, signature) = wire::split_trailing_opaque(bytes, 64)
        .ok_or_else(|| Error::Malformed("KeyPackage signature is not 64 bytes".into()))?;
    Ok(json!({
        "id": hex::encode(kp.hash_ref(&crypto).map_err(Error::engine)?.as_slice()),
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

#[cfg(test)]
mod tests {
    use openmls::prelude::tls_codec::Serialize as _;
    use openmls::prelude::{Credential, CredentialType};

    use super::*;

    /// The RFC 9420 §5.3 X.509 Credential for a 3-byte and a 300-byte certificate, written out by
    /// hand (no helper of ours, no openmls): credential_type x509 = 0x0002; the
    /// `certificates<V>` list of 1 + 3 + 2 + 300 = 306 bytes, so the varint 0x41 0x32; then each
    /// `cert_data<V>`: 0x03 and 3 bytes, 0x41 0x2C (300) and 300 bytes.
    #[test]
    fn the_credential_is_the_rfc_9420_structure_written_by_hand() {
        let (a, b) = (vec![0x30, 0x01, 0x00], vec![0x5A; 300]);
        let mut expected = vec![0x00, 0x02, 0x41, 0x32, 0x03];
        expected.extend(&a);
        expected.extend([0x41, 0x2C]);
        expected.extend(&b);

        let content = x509_credential_content(&[a.clone(), b.clone()]);
        let written = Credential::new(CredentialType::X509, content.clone())
            .tls_serialize_detached()
            .expect("serialise");
        assert_eq!(written, expected);
        assert_eq!(x509_chain_of(&content), Some(vec![a, b]));
        assert_eq!(x509_chain_of(&[0x05, 0x01]), None);
        assert_eq!(x509_chain_of(&[0xC0]), None);
    }

    fn client() -> MlsClient {
        MlsClient::new(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
            vec![0x30, 3, 1, 2, 3],
        )
    }

    const SUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

    #[test]
    fn grease_values_are_the_fifteen_of_rfc_9420() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        assert_eq!(all.len(), 15);
        assert_eq!(all.first(), Some(&0x0A0A));
        assert_eq!(all.last(), Some(&0xEAEA));
        assert!(!is_grease(0x000A) && !is_grease(0x0A1A));
    }

    /// openmls alone refuses a GREASE'd KeyPackage that lists its GREASE extension; the
    /// harness's validation accepts it, and still refuses an extension the leaf does not list.
    #[test]
    fn greased_key_package_passes_the_harness_validation_only() {
        let client = client();
        let (bytes, grease) = client.greased_key_package(SUITE).unwrap();
        assert_eq!(grease.len(), 4, "{grease:04X?}");
        assert!(grease.iter().all(|g| is_grease(*g)));
        let crypto = openmls_rust_crypto::RustCrypto::default();
        let kp_in = decode_key_package(&bytes).unwrap();
        assert!(matches!(
            kp_in.clone().validate(&crypto, ProtocolVersion::Mls10),
            Err(KeyPackageVerifyError::UnsupportedExtension)
        ));
        let kp = validate_key_package(kp_in, &crypto).unwrap();
        assert!(kp
            .extensions()
            .iter()
            .any(|e| is_grease(u16::from(e.extension_type()))));

        // A KeyPackage extension of a type the capabilities do not list stays refused.
        let bundle = KeyPackage::builder()
            .leaf_node_capabilities(capabilities(SUITE))
            .key_package_extensions(
                Extensions::single(Extension::Unknown(0x1A1A, UnknownExtension(Vec::new())))
                    .unwrap(),
            )
            .build(
                SUITE,
                &client.provider,
                &client.key,
                client.credential(None),
            )
            .unwrap();
        let bytes = MlsMessageOut::from(bundle.key_package().clone())
            .tls_serialize_detached()
            .unwrap();
        let err = validate_key_package(decode_key_package(&bytes).unwrap(), &crypto).unwrap_err();
        assert!(err.to_string().contains("0x1A1A"), "{err}");
    }
}
