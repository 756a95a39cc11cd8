//! The second MLS implementation of the suite runs: an mls-rs client (mls-rs-crypto-rustcrypto)
//! whose credential is an X.509 chain holding the actor's ID-Cert, so that the target relays
//! Welcomes, commits and application messages between two implementations that share no code.
//!
//! Its identity provider is the harness's own: a member is valid when its chain's leaf is an
//! ID-Cert signed by the target's root ID-Cert, valid now, for the member's signature key.

use crate::Error;
use std::time::{SystemTime, UNIX_EPOCH};

use mls_rs::client_builder::{BaseConfig, WithCryptoProvider, WithIdentityProvider};
use mls_rs::crypto::{SignaturePublicKey, SignatureSecretKey};
use mls_rs::error::IntoAnyError;
use mls_rs::group::ReceivedMessage;
use mls_rs::identity::{Credential, CredentialType, SigningIdentity};
use mls_rs::time::MlsTime;
use mls_rs::{CipherSuite, Client, CryptoProvider, ExtensionList, Group, MlsMessage};
use mls_rs_core::identity::{CertificateChain, MemberValidationContext};

use crate::clients::xwing::Crypto;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Implementation and provider, as the report header names them.
pub const IMPLEMENTATION: &str = "mls-rs 0.57 (mls-rs-crypto-rustcrypto 0.23)";

/// The same for the hybrid suite, whose KEM is the harness's (`clients::xwing`).
pub const IMPLEMENTATION_XWING: &str =
    "mls-rs 0.57 (mls-rs-crypto-rustcrypto 0.23, X-Wing KEM of the harness on x-wing 0.1)";

/// mls-rs 0.57 has no last_resort extension type of its own without a feature; RFC 9420 §17.3.
const LAST_RESORT: u16 = 0x000A;

/// Why the identity provider refused a member.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IdentityError(pub String);

impl IntoAnyError for IdentityError {
    fn into_dyn_error(self) -> Result<Box<dyn std::error::Error + Send + Sync>, Self> {
        Ok(self.into())
    }
}

/// Accepts members whose X.509 chain starts with an ID-Cert the target's root signed.
#[derive(Clone)]
pub struct IdCertIdentity {
    root_der: Vec<u8>,
}

impl IdCertIdentity {
    pub fn new(root_der: Vec<u8>) -> Self {
        Self { root_der }
    }

    /// The leaf ID-Cert of a member, verified against the root; returns the actor's fid.
    pub fn verify(&self, identity: &SigningIdentity) -> Result<String, IdentityError> {
        let Credential::X509(chain) = &identity.credential else {
            return Err(IdentityError("not an X.509 credential".into()));
        };
        let leaf = chain
            .leaf()
            .ok_or_else(|| IdentityError("an empty certificate chain".into()))?;
        verify_id_cert(leaf, &self.root_der, identity.signature_key.as_ref())
    }
}

/// Checks an actor ID-Cert with the harness's own code: parsed as X.509, issued by the root's
/// subject, signed with the root's key, valid now, and certifying `signature_key` (Ed25519).
pub fn verify_id_cert(
    leaf_der: &[u8],
    root_der: &[u8],
    signature_key: &[u8],
) -> Result<String, IdentityError> {
    let (_, root) = X509Certificate::from_der(root_der)
        .map_err(|e| IdentityError(format!("the root ID-Cert does not parse: {e}")))?;
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|e| IdentityError(format!("the ID-Cert does not parse: {e}")))?;
    if leaf.issuer().as_raw() != root.subject().as_raw() {
        return Err(IdentityError("the ID-Cert's issuer is not the root".into()));
    }
    leaf.verify_signature(Some(root.public_key()))
        .map_err(|e| IdentityError(format!("the root did not sign the ID-Cert: {e}")))?;
    if !leaf.validity().is_valid() {
        return Err(IdentityError("the ID-Cert is not valid now".into()));
    }
    if leaf.public_key().subject_public_key.data.as_ref() != signature_key {
        return Err(IdentityError(
            "the ID-Cert certifies another key than the leaf's signature key".into(),
        ));
    }
    // The harness's own pDN reader (never the server's).
    crate::x509::claims(leaf.subject())
        .map_err(|e| IdentityError(format!("the ID-Cert's name is unreadable: {e}")))?
        .uid
        .ok_or_else(|| IdentityError("the ID-Cert names no actor (no UID)".into()))
}

impl mls_rs::IdentityProvider for IdCertIdentity {
    type Error = IdentityError;

    fn validate_member(
        &self,
        signing_identity: &SigningIdentity,
        _timestamp: Option<MlsTime>,
        _context: MemberValidationContext<'_>,
    ) -> Result<(), IdentityError> {
        self.verify(signing_identity).map(|_| ())
    }

    fn validate_external_sender(
        &self,
        _signing_identity: &SigningIdentity,
        _timestamp: Option<MlsTime>,
        _extensions: Option<&ExtensionList>,
    ) -> Result<(), IdentityError> {
        Err(IdentityError("no external senders in suite runs".into()))
    }

    fn identity(
        &self,
        signing_identity: &SigningIdentity,
        _extensions: &ExtensionList,
    ) -> Result<Vec<u8>, IdentityError> {
        self.verify(signing_identity).map(String::into_bytes)
    }

    fn valid_successor(
        &self,
        predecessor: &SigningIdentity,
        successor: &SigningIdentity,
        _extensions: &ExtensionList,
    ) -> Result<bool, IdentityError> {
        Ok(self.verify(predecessor)? == self.verify(successor)?)
    }

    fn supported_types(&self) -> Vec<CredentialType> {
        vec![CredentialType::X509]
    }
}

pub type RsConfig = WithIdentityProvider<IdCertIdentity, WithCryptoProvider<Crypto, BaseConfig>>;

/// Whether carol's mls-rs provider can run the suite with this MLS wire code point (`hybrid`:
/// the wire code point of 0xF110, which it runs with X-Wing); the reason when not, measured by
/// asking the provider.
pub fn supports(wire: u16, hybrid: Option<u16>) -> Result<(), Error> {
    let provider = Crypto {
        hybrid_wire: hybrid,
    };
    if provider
        .cipher_suite_provider(CipherSuite::new(wire))
        .is_some()
    {
        return Ok(());
    }
    let offered: Vec<String> = provider
        .supported_cipher_suites()
        .iter()
        .map(|s| format!("0x{:04X}", u16::from(*s)))
        .collect();
    Err(Error::Malformed(format!(
        "mls-rs-crypto-rustcrypto 0.23 has no cipher suite provider for wire code point \
         0x{wire:04X} (it offers {})",
        offered.join(", ")
    )))
}

/// One mls-rs client of an actor session in one suite.
pub struct RsClient {
    pub client: Client<RsConfig>,
    pub suite: CipherSuite,
}

impl RsClient {
    /// A client for `wire` signing with the actor's Ed25519 key, credential = [ID-Cert].
    pub fn new(
        key: &ed25519_dalek::SigningKey,
        cert_der: Vec<u8>,
        root_der: Vec<u8>,
        wire: u16,
        hybrid: Option<u16>,
    ) -> Result<Self, Error> {
        supports(wire, hybrid)?;
        let suite = CipherSuite::new(wire);
        let identity = SigningIdentity::new(
            CertificateChain::from(vec![cert_der]).into_credential(),
            SignaturePublicKey::new(key.verifying_key().to_bytes().to_vec()),
        );
        let client = Client::builder()
            .crypto_provider(Crypto {
                hybrid_wire: hybrid,
            })
            .identity_provider(IdCertIdentity::new(root_der))
            .extension_type(LAST_RESORT.into())
            .signing_identity(
                identity,
                SignatureSecretKey::new(key.to_keypair_bytes().to_vec()),
                suite,
            )
            .build();
        Ok(Self { client, suite })
    }

    /// A KeyPackage MLSMessage (with the last_resort extension when asked).
    pub fn key_package(&self, last_resort: bool) -> Result<Vec<u8>, Error> {
        let mut extensions = ExtensionList::new();
        if last_resort {
            extensions.set(mls_rs::Extension::new(LAST_RESORT.into(), Vec::new()));
        }
        self.client
            .generate_key_package_message(extensions, ExtensionList::new(), Some(now()))
            .and_then(|m| m.to_bytes())
            .map_err(|e| Error::Malformed(format!("mls-rs KeyPackage: {e}")))
    }

    /// Joins from a Welcome MLSMessage (the ratchet tree in its extension).
    pub fn join(&self, welcome: &[u8]) -> Result<Group<RsConfig>, Error> {
        let message =
            MlsMessage::from_bytes(welcome).map_err(|e| Error::Malformed(format!("{e}")))?;
        self.client
            .join_group(None, &message, Some(now()))
            .map(|(group, _)| group)
            .map_err(|e| Error::Malformed(format!("{e}")))
    }
}

fn now() -> MlsTime {
    MlsTime::from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

/// What processing a relayed message did.
pub enum Processed {
    Proposal,
    Commit,
    Application(Vec<u8>),
}

/// Processes a relayed MLSMessage in an mls-rs group.
pub fn process(group: &mut Group<RsConfig>, bytes: &[u8]) -> Result<Processed, Error> {
    let message = MlsMessage::from_bytes(bytes).map_err(|e| Error::Malformed(format!("{e}")))?;
    match group
        .process_incoming_message_with_time(message, now())
        .map_err(|e| Error::Malformed(format!("{e}")))?
    {
        ReceivedMessage::Proposal(_) => Ok(Processed::Proposal),
        ReceivedMessage::Commit(_) => Ok(Processed::Commit),
        ReceivedMessage::ApplicationMessage(m) => Ok(Processed::Application(m.data().to_vec())),
        _ => Err(Error::Malformed("another kind of message".into())),
    }
}

/// The fid of every member, read from the ID-Cert of its credential.
pub fn member_fids(group: &Group<RsConfig>) -> Vec<Option<String>> {
    group
        .roster()
        .members()
        .iter()
        .map(|m| match &m.signing_identity.credential {
            Credential::X509(chain) => chain
                .leaf()
                .and_then(|c| crate::x509::parse(c).ok())
                .and_then(|cert| crate::x509::claims(cert.subject()).ok())
                .and_then(|claims| claims.uid),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mls_rs::mls_rs_codec::MlsEncode;
    use openmls::prelude::tls_codec::Serialize as _;

    /// openmls's credential as the harness builds it and mls-rs's X.509 credential are the
    /// same bytes on the wire (RFC 9420 §5.3): the layout both sides of a suite run rely on.
    #[test]
    fn x509_credential_bytes_agree_with_mls_rs() {
        let chain = vec![vec![0x30, 0x82, 1, 2, 3], vec![7u8; 300]];
        let ours = openmls::prelude::Credential::new(
            openmls::prelude::CredentialType::X509,
            crate::clients::mls::x509_credential_content(&chain),
        )
        .tls_serialize_detached()
        .unwrap();
        let theirs = CertificateChain::from(chain.clone())
            .into_credential()
            .mls_encode_to_vec()
            .unwrap();
        assert_eq!(ours, theirs);
        // And the harness reads mls-rs's content back as the same chain.
        assert_eq!(
            crate::clients::mls::x509_chain_of(&theirs[2 + 2..]),
            Some(chain)
        );
    }

    #[test]
    fn the_hybrid_suite_is_offered_only_on_its_wire_code_point() {
        assert!(supports(0x0001, None).is_ok());
        assert!(supports(0x004F, Some(0x004F)).is_ok());
        let reason = supports(0x004F, None).unwrap_err();
        assert!(reason.to_string().contains("0x004F"), "{reason}");
    }
}
