//! `key-schedule.json`: the epoch key schedule (RFC 9420 §8).
//!
//! Format: `[{ "cipher_suite": u16, "group_id": hex, "initial_init_secret": hex,
//!   "epochs": [{ "tree_hash", "commit_secret", "psk_secret", "confirmed_transcript_hash",
//!     "group_context", "joiner_secret", "welcome_secret", "init_secret", "sender_data_secret",
//!     "encryption_secret", "exporter_secret", "epoch_authenticator", "external_secret",
//!     "confirmation_key", "membership_key", "resumption_psk", "external_pub",
//!     "exporter": { "label": string, "context": hex, "length": u32, "secret": hex } }] }]`.
//!
//! Verification, for epoch `n` with `init_secret[-1] = initial_init_secret`:
//! - `group_context == GroupContext{suite, group_id, n, tree_hash, confirmed_transcript_hash, {}}`
//! - `joiner_secret = ExpandWithLabel(Extract(init_secret[n-1], commit_secret), "joiner",
//!   group_context, Nh)`, `member = Extract(joiner_secret, psk_secret)`,
//!   `welcome_secret = DeriveSecret(member, "welcome")`,
//!   `epoch_secret = ExpandWithLabel(member, "epoch", group_context, Nh)` and every
//!   `DeriveSecret(epoch_secret, label)` output equal the vector;
//! - `external_pub` is the public key of `KEM.DeriveKeyPair(external_secret)`;
//! - `exporter.secret == MLS-Exporter(exporter.label, exporter.context, exporter.length)`.

use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::load::Hex;
use crate::schedule::{epoch_from_joiner, exporter, group_context, joiner_secret};
use crate::verdict::{check_bytes, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Exporter {
    /// Used as the bytes of the string as written (openmls's KAT reads it the same way).
    pub label: String,
    pub context: Hex,
    pub length: u32,
    pub secret: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Epoch {
    pub tree_hash: Hex,
    pub commit_secret: Hex,
    pub psk_secret: Hex,
    pub confirmed_transcript_hash: Hex,
    pub group_context: Hex,
    pub joiner_secret: Hex,
    pub welcome_secret: Hex,
    pub init_secret: Hex,
    pub sender_data_secret: Hex,
    pub encryption_secret: Hex,
    pub exporter_secret: Hex,
    pub epoch_authenticator: Hex,
    pub external_secret: Hex,
    pub confirmation_key: Hex,
    pub membership_key: Hex,
    pub resumption_psk: Hex,
    pub external_pub: Hex,
    pub exporter: Exporter,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub group_id: Hex,
    pub initial_init_secret: Hex,
    pub epochs: Vec<Epoch>,
}

pub struct KeySchedule;

impl VectorFile for KeySchedule {
    const FILE: &'static str = "key-schedule.json";
    const FIELDS: &'static [&'static str] =
        &["cipher_suite", "group_id", "initial_init_secret", "epochs"];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());
        let mut init = e.initial_init_secret.0.clone();
        for (n, ep) in e.epochs.iter().enumerate() {
            let f = |name: &str| format!("epochs[{n}].{name}");
            let gc = group_context(
                e.cipher_suite,
                &e.group_id,
                n as u64,
                &ep.tree_hash,
                &ep.confirmed_transcript_hash,
                &[],
            );
            check_bytes(&f("group_context"), &ep.group_context, &gc)?;
            let joiner =
                joiner_secret(cs, &init, &ep.commit_secret, &gc).or_fail(&f("joiner_secret"))?;
            check_bytes(&f("joiner_secret"), &ep.joiner_secret, &joiner)?;
            let s = epoch_from_joiner(cs, &joiner, Some(&ep.psk_secret), &gc)
                .or_fail(&f("epoch secrets"))?;
            for (name, expected, computed) in [
                ("welcome_secret", &ep.welcome_secret, &s.welcome_secret),
                ("init_secret", &ep.init_secret, &s.init_secret),
                (
                    "sender_data_secret",
                    &ep.sender_data_secret,
                    &s.sender_data_secret,
                ),
                (
                    "encryption_secret",
                    &ep.encryption_secret,
                    &s.encryption_secret,
                ),
                ("exporter_secret", &ep.exporter_secret, &s.exporter_secret),
                (
                    "epoch_authenticator",
                    &ep.epoch_authenticator,
                    &s.epoch_authenticator,
                ),
                ("external_secret", &ep.external_secret, &s.external_secret),
                (
                    "confirmation_key",
                    &ep.confirmation_key,
                    &s.confirmation_key,
                ),
                ("membership_key", &ep.membership_key, &s.membership_key),
                ("resumption_psk", &ep.resumption_psk, &s.resumption_psk),
            ] {
                check_bytes(&f(name), expected, computed)?;
            }
            let (_, external_pub) = cs
                .derive_key_pair(&s.external_secret)
                .or_fail(&f("external_pub"))?;
            check_bytes(&f("external_pub"), &ep.external_pub, &external_pub)?;
            let length = u16::try_from(ep.exporter.length).map_err(|_| {
                Finding::fail(
                    f("exporter.length"),
                    "at most 65535",
                    ep.exporter.length.to_string(),
                )
            })?;
            let exported = exporter(
                cs,
                &s.exporter_secret,
                ep.exporter.label.as_bytes(),
                &ep.exporter.context,
                length,
            )
            .or_fail(&f("exporter.secret"))?;
            check_bytes(&f("exporter.secret"), &ep.exporter.secret, &exported)?;
            init = s.init_secret;
        }
        Ok(Vec::new())
    }
}
