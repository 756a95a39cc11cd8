//! The passive-client scenarios (`passive-client-welcome.json`,
//! `passive-client-handling-commit.json`): a client joins with a Welcome and follows the group
//! through commits, entirely through openmls's public API (this is the engine under test).
//!
//! Format: `[{ "cipher_suite": u16, "external_psks": [{ "psk_id", "psk" }],
//!   "key_package": hex (MLSMessage(KeyPackage)), "signature_priv", "encryption_priv",
//!   "init_priv": hex, "welcome": hex (MLSMessage(Welcome)), "ratchet_tree": hex or null,
//!   "initial_epoch_authenticator": hex,
//!   "epochs": [{ "proposals": [hex MLSMessage], "commit": hex MLSMessage,
//!                "epoch_authenticator": hex }] }]`.
//!
//! Verification:
//! - `signature_priv`, `encryption_priv` and `init_priv` belong to the KeyPackage's
//!   `signature_key`, `encryption_key` and `init_key` (sign/verify and HPKE round trips);
//! - join with the Welcome, `ratchet_tree` (if given) and the external PSKs; the epoch
//!   authenticator equals `initial_epoch_authenticator`;
//! - for each epoch: process the proposals, then the commit (using the proposals by reference);
//!   the epoch authenticator equals the epoch's `epoch_authenticator`.
//!
//! The private keys reach openmls through its storage trait: the KeyPackage bundle is written
//! with `StorageProvider::write_key_package` in the serialised shape of openmls's
//! `KeyPackageBundle` (whose constructor is test-only). The vectors were generated long ago, so
//! KeyPackage and leaf lifetimes have usually expired: such an entry is checked with lifetime
//! validation off for that entry only (`JoinBuilder::skip_lifetime_validation`), and the verdict
//! carries a note saying so.

use openmls::prelude::tls_codec::Deserialize as _;
use openmls::prelude::{
    Ciphersuite, KeyPackage, KeyPackageIn, KeyPackageVerifyError, MlsGroup, MlsGroupJoinConfig,
    MlsMessageBodyIn, MlsMessageIn, ProcessedMessageContent, ProtocolVersion, RatchetTreeIn,
    StagedWelcome, MIXED_PLAINTEXT_WIRE_FORMAT_POLICY,
};
use openmls::schedule::PreSharedKeyId;
use openmls_traits::storage::{traits, Entity, StorageProvider as _, CURRENT_VERSION};
use openmls_traits::types::HpkePrivateKey;
use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::load::Hex;
use crate::verdict::{check_bytes, Checked, Finding, OrFail};
use crate::{suite_support, Backend};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExternalPsk {
    pub psk_id: Hex,
    pub psk: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Epoch {
    pub proposals: Vec<Hex>,
    pub commit: Hex,
    pub epoch_authenticator: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub external_psks: Vec<ExternalPsk>,
    pub key_package: Hex,
    pub signature_priv: Hex,
    pub encryption_priv: Hex,
    pub init_priv: Hex,
    pub welcome: Hex,
    pub ratchet_tree: Option<Hex>,
    pub initial_epoch_authenticator: Hex,
    pub epochs: Vec<Epoch>,
}

/// The fields every entry has (`ratchet_tree` may be absent: it is optional).
pub const FIELDS: &[&str] = &[
    "cipher_suite",
    "external_psks",
    "key_package",
    "signature_priv",
    "encryption_priv",
    "init_priv",
    "welcome",
    "initial_epoch_authenticator",
    "epochs",
];

/// Both passive-client files share one format; what tells them apart is whether the client
/// follows the group after joining: `passive-client-welcome.json` has no epochs.
pub fn has_epochs(entry: &serde_json::Map<String, serde_json::Value>) -> bool {
    entry
        .get("epochs")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|epochs| !epochs.is_empty())
}

/// The serialised shape of openmls's `EncryptionPrivateKey`.
#[derive(Serialize, Deserialize)]
struct EncryptionPrivateKeyShape {
    key: HpkePrivateKey,
}

/// The serialised shape of openmls's `KeyPackageBundle` (fields as openmls names them).
#[derive(Serialize, Deserialize)]
struct KeyPackageBundleShape {
    key_package: KeyPackage,
    private_init_key: HpkePrivateKey,
    private_encryption_key: EncryptionPrivateKeyShape,
}

impl Entity<CURRENT_VERSION> for KeyPackageBundleShape {}
impl traits::KeyPackage<CURRENT_VERSION> for KeyPackageBundleShape {}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .use_ratchet_tree_extension(true)
        .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
        .number_of_resumption_psks(16)
        .build()
}

/// Checks that the private keys belong to the KeyPackage's public keys.
fn check_private_keys<B: Backend>(
    e: &Entry,
    suite: Ciphersuite,
    provider: &B,
) -> Result<(), Finding> {
    let cs = Cs::new(suite, provider.crypto());
    let mut r =
        crate::framing::expect_mls_message(&e.key_package, crate::framing::WIRE_KEY_PACKAGE)
            .or_fail("key_package")?;
    let kp = crate::framing::KeyPackage::parse(&mut r).or_fail("key_package")?;
    let sig = cs
        .sign_with_label(&e.signature_priv, b"p2mls", b"key check")
        .or_fail("signature_priv")?;
    cs.verify_with_label(&kp.leaf_node.signature_key, b"p2mls", b"key check", &sig)
        .or_fail("signature_priv (does not match key_package.leaf_node.signature_key)")?;
    for (field, private, public) in [
        ("init_priv", &e.init_priv, &kp.init_key),
        (
            "encryption_priv",
            &e.encryption_priv,
            &kp.leaf_node.encryption_key,
        ),
    ] {
        let (kem, ct) = cs
            .encrypt_with_label(public, b"p2mls", b"", b"key check")
            .or_fail(field)?;
        let pt = cs
            .decrypt_with_label(private, b"p2mls", b"", &kem, &ct)
            .or_fail(&format!(
                "{field} (does not match the KeyPackage's public key)"
            ))?;
        check_bytes(field, b"key check", &pt)?;
    }
    Ok(())
}

/// One attempt at the scenario, with lifetime validation on or off.
fn attempt<B: Backend>(
    e: &Entry,
    suite: Ciphersuite,
    skip_lifetimes: bool,
) -> Result<Vec<String>, Finding> {
    let provider = B::default();
    let mut notes = Vec::new();
    let msg = MlsMessageIn::tls_deserialize_exact(e.key_package.as_slice())
        .map_err(|err| Finding::fail("key_package", "an MLSMessage", err.to_string()))?;
    let kp_in: KeyPackageIn = match msg.extract() {
        MlsMessageBodyIn::KeyPackage(kp) => kp,
        _ => {
            return Err(Finding::fail(
                "key_package",
                "an MLSMessage(KeyPackage)",
                "another wire format",
            ))
        }
    };
    let kp = match kp_in
        .clone()
        .validate(provider.crypto(), ProtocolVersion::Mls10)
    {
        Ok(kp) => kp,
        Err(KeyPackageVerifyError::LifetimeError(err)) if skip_lifetimes => {
            notes.push(format!(
                "KeyPackage lifetime invalid ({err}): checked with lifetime validation off"
            ));
            kp_in.into_unchecked()
        }
        Err(err) => {
            return Err(Finding::fail(
                "key_package",
                "a valid KeyPackage",
                format!("{err:?}"),
            ))
        }
    };
    check_private_keys(e, suite, &provider)?;

    let hash_ref = kp
        .hash_ref(provider.crypto())
        .map_err(|err| Finding::Error(format!("KeyPackageRef: {err:?}")))?;
    let bundle = KeyPackageBundleShape {
        key_package: kp,
        private_init_key: HpkePrivateKey::from(e.init_priv.0.clone()),
        private_encryption_key: EncryptionPrivateKeyShape {
            key: HpkePrivateKey::from(e.encryption_priv.0.clone()),
        },
    };
    provider
        .storage()
        .write_key_package(&hash_ref, &bundle)
        .map_err(|err| Finding::Error(format!("storing the KeyPackage bundle: {err:?}")))?;
    for (i, psk) in e.external_psks.iter().enumerate() {
        PreSharedKeyId::external(psk.psk_id.0.clone(), Vec::new())
            .store(&provider, &psk.psk)
            .map_err(|err| Finding::Error(format!("storing external_psks[{i}]: {err:?}")))?;
    }

    let welcome = MlsMessageIn::tls_deserialize_exact(e.welcome.as_slice())
        .map_err(|err| Finding::fail("welcome", "an MLSMessage", err.to_string()))?
        .extract();
    let MlsMessageBodyIn::Welcome(welcome) = welcome else {
        return Err(Finding::fail(
            "welcome",
            "an MLSMessage(Welcome)",
            "another wire format",
        ));
    };
    let mut builder = StagedWelcome::build_from_welcome(&provider, &join_config(), welcome)
        .map_err(|err| Finding::fail("welcome", "processable by openmls", format!("{err:?}")))?;
    if let Some(tree) = &e.ratchet_tree {
        let tree = RatchetTreeIn::tls_deserialize_exact(tree.as_slice())
            .map_err(|err| Finding::fail("ratchet_tree", "a ratchet tree", err.to_string()))?;
        builder = builder.with_ratchet_tree(tree);
    }
    if skip_lifetimes {
        builder = builder.skip_lifetime_validation();
    }
    let mut group: MlsGroup = builder
        .build()
        .and_then(|staged| staged.into_group(&provider))
        .map_err(|err| Finding::fail("welcome", "a joinable group", format!("{err:?}")))?;
    check_bytes(
        "initial_epoch_authenticator",
        &e.initial_epoch_authenticator,
        group.epoch_authenticator().as_slice(),
    )?;

    for (i, epoch) in e.epochs.iter().enumerate() {
        let messages = epoch
            .proposals
            .iter()
            .enumerate()
            .map(|(j, p)| (format!("epochs[{i}].proposals[{j}]"), p))
            .chain(std::iter::once((
                format!("epochs[{i}].commit"),
                &epoch.commit,
            )));
        for (field, bytes) in messages {
            let msg = MlsMessageIn::tls_deserialize_exact(bytes.as_slice())
                .map_err(|err| Finding::fail(&field, "an MLSMessage", err.to_string()))?;
            let protocol = msg
                .try_into_protocol_message()
                .map_err(|err| Finding::fail(&field, "a protocol message", format!("{err:?}")))?;
            let processed = group.process_message(&provider, protocol).map_err(|err| {
                Finding::fail(&field, "processable by openmls", format!("{err:?}"))
            })?;
            match processed.into_content() {
                ProcessedMessageContent::ProposalMessage(p) => group
                    .store_pending_proposal(provider.storage(), *p)
                    .map_err(|err| {
                        Finding::Error(format!("{field}: storing the proposal: {err:?}"))
                    })?,
                ProcessedMessageContent::StagedCommitMessage(c) => {
                    group.merge_staged_commit(&provider, *c).map_err(|err| {
                        Finding::fail(&field, "a mergeable commit", format!("{err:?}"))
                    })?
                }
                ProcessedMessageContent::ExternalJoinProposalMessage(p) => group
                    .store_pending_proposal(provider.storage(), *p)
                    .map_err(|err| {
                        Finding::Error(format!("{field}: storing the proposal: {err:?}"))
                    })?,
                ProcessedMessageContent::ApplicationMessage(_)
                | ProcessedMessageContent::OwnPendingCommit
                | ProcessedMessageContent::OwnPrivateMessage => {
                    return Err(Finding::fail(
                        &field,
                        "a proposal or commit",
                        "an application message",
                    ))
                }
            }
        }
        check_bytes(
            &format!("epochs[{i}].epoch_authenticator"),
            &epoch.epoch_authenticator,
            group.epoch_authenticator().as_slice(),
        )?;
    }
    if skip_lifetimes && notes.is_empty() {
        notes.push(
            "a leaf lifetime in the tree has expired: joined with lifetime validation off"
                .to_owned(),
        );
    }
    Ok(notes)
}

/// Whether a finding is caused by an expired lifetime (so that a retry without lifetime
/// validation is the honest next step).
fn is_lifetime_finding(f: &Finding) -> bool {
    match f {
        Finding::Mismatch(m) => m.computed.contains("Lifetime") || m.computed.contains("lifetime"),
        _ => false,
    }
}

/// Verifies one passive-client entry.
pub fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
    let suite =
        suite_support(provider.crypto(), B::NAME, e.cipher_suite).map_err(Finding::Unsupported)?;
    match attempt::<B>(e, suite, false) {
        Ok(notes) => Ok(notes),
        Err(f) if is_lifetime_finding(&f) => attempt::<B>(e, suite, true),
        Err(f) => Err(f),
    }
}
