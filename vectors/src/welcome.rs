//! `welcome.json`: joining from a Welcome (RFC 9420 §12.4.3.1).
//!
//! Format: `[{ "cipher_suite": u16, "init_priv": hex, "signer_pub": hex,
//!   "key_package": hex (MLSMessage(KeyPackage)), "welcome": hex (MLSMessage(Welcome)) }]`.
//!
//! Verification:
//! - find the `EncryptedGroupSecrets` whose `new_member` is
//!   `RefHash("MLS 1.0 KeyPackage Reference", key_package)`;
//! - `GroupSecrets = DecryptWithLabel(init_priv, "Welcome", encrypted_group_info, kem_output,
//!   ciphertext)`;
//! - `welcome_secret = DeriveSecret(Extract(joiner_secret, 0^Nh), "welcome")`,
//!   `GroupInfo = AEAD.Open(ExpandWithLabel(welcome_secret, "key", "", Nk),
//!   ExpandWithLabel(welcome_secret, "nonce", "", Nn), "", encrypted_group_info)`;
//! - `VerifyWithLabel(signer_pub, "GroupInfoTBS", GroupInfoTBS, signature)`;
//! - with the epoch secrets from `joiner_secret` and no PSKs,
//!   `confirmation_tag == MAC(confirmation_key, group_context.confirmed_transcript_hash)`.

use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::framing::{
    expect_mls_message, GroupInfo, GroupSecrets, KeyPackage, WIRE_KEY_PACKAGE, WIRE_WELCOME,
};
use crate::load::Hex;
use crate::schedule::{epoch_from_joiner, welcome_key_nonce};
use crate::verdict::{check_bytes, check_eq, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub init_priv: Hex,
    pub signer_pub: Hex,
    pub key_package: Hex,
    pub welcome: Hex,
}

pub struct Welcome;

impl VectorFile for Welcome {
    const FILE: &'static str = "welcome.json";
    const FIELDS: &'static [&'static str] = &[
        "cipher_suite",
        "init_priv",
        "signer_pub",
        "key_package",
        "welcome",
    ];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());
        let mut r = expect_mls_message(&e.key_package, WIRE_KEY_PACKAGE).or_fail("key_package")?;
        let kp = KeyPackage::parse(&mut r).or_fail("key_package")?;
        r.finish("KeyPackage").or_fail("key_package")?;
        let kp_ref = cs
            .ref_hash(b"MLS 1.0 KeyPackage Reference", &kp.raw)
            .or_fail("key_package (KeyPackageRef)")?;
        let mut r = expect_mls_message(&e.welcome, WIRE_WELCOME).or_fail("welcome")?;
        let welcome = crate::framing::Welcome::parse(&mut r).or_fail("welcome")?;
        r.finish("Welcome").or_fail("welcome")?;
        check_eq("welcome.cipher_suite", e.cipher_suite, welcome.cipher_suite)?;
        let (_, kem, ct) = welcome
            .secrets
            .iter()
            .find(|(r, _, _)| *r == kp_ref)
            .ok_or_else(|| {
                Finding::fail(
                    "welcome.secrets[].new_member",
                    hex::encode(&kp_ref),
                    "no entry for the key package",
                )
            })?;
        let gs_bytes = cs
            .decrypt_with_label(
                &e.init_priv,
                b"Welcome",
                &welcome.encrypted_group_info,
                kem,
                ct,
            )
            .or_fail("welcome.secrets[].encrypted_group_secrets")?;
        let gs = GroupSecrets::from_bytes(&gs_bytes).or_fail("GroupSecrets")?;
        let zero = vec![0u8; cs.nh()];
        let member = cs
            .extract(&gs.joiner_secret, &zero)
            .or_fail("welcome_secret")?;
        let welcome_secret = cs
            .derive_secret(&member, b"welcome")
            .or_fail("welcome_secret")?;
        let (key, nonce) = welcome_key_nonce(cs, &welcome_secret).or_fail("welcome_key")?;
        let gi_bytes = cs
            .aead_open(&key, &nonce, &[], &welcome.encrypted_group_info)
            .or_fail("welcome.encrypted_group_info")?;
        let gi = GroupInfo::from_bytes(&gi_bytes).or_fail("GroupInfo")?;
        cs.verify_with_label(&e.signer_pub, b"GroupInfoTBS", &gi.tbs, &gi.signature)
            .or_fail("GroupInfo.signature")?;
        let epoch = epoch_from_joiner(cs, &gs.joiner_secret, None, &gi.group_context.raw)
            .or_fail("confirmation_key")?;
        let tag = cs
            .mac(
                &epoch.confirmation_key,
                &gi.group_context.confirmed_transcript_hash,
            )
            .or_fail("GroupInfo.confirmation_tag")?;
        check_bytes("GroupInfo.confirmation_tag", &gi.confirmation_tag, &tag)?;
        Ok(Vec::new())
    }
}
