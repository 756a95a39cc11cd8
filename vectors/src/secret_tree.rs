//! `secret-tree.json`: the secret tree and sender-data keys (RFC 9420 §9, §6.3.2).
//!
//! Format: `[{ "cipher_suite": u16,
//!   "sender_data": { "sender_data_secret", "ciphertext", "key", "nonce" },
//!   "encryption_secret": hex,
//!   "leaves": [[{ "generation": u32, "handshake_key", "handshake_nonce", "application_key",
//!                 "application_nonce" }]] }]`.
//!
//! Verification:
//! - `key == ExpandWithLabel(sender_data_secret, "key", ciphertext[..Nh], AEAD.Nk)` and
//!   `nonce == ExpandWithLabel(sender_data_secret, "nonce", ciphertext[..Nh], AEAD.Nn)`
//! - a secret tree over `len(leaves)` leaves with root secret `encryption_secret`; for leaf `i`
//!   and each listed generation `g`: the handshake and application ratchet key and nonce at `g`
//!   (`ratchet_secret[0] = ExpandWithLabel(leaf_secret, "handshake"|"application", "", Nh)`,
//!   `key = DeriveTreeSecret(secret[g], "key", g, Nk)`, `nonce = ... "nonce" ..., Nn`,
//!   `secret[g+1] = DeriveTreeSecret(secret[g], "secret", g, Nh)`).

use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::load::Hex;
use crate::schedule::{sender_data_key_nonce, RatchetKind, SecretTree as Tree};
use crate::verdict::{check_bytes, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SenderData {
    pub sender_data_secret: Hex,
    pub ciphertext: Hex,
    pub key: Hex,
    pub nonce: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Generation {
    pub generation: u32,
    pub handshake_key: Hex,
    pub handshake_nonce: Hex,
    pub application_key: Hex,
    pub application_nonce: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub sender_data: SenderData,
    pub encryption_secret: Hex,
    pub leaves: Vec<Vec<Generation>>,
}

pub struct SecretTree;

impl VectorFile for SecretTree {
    const FILE: &'static str = "secret-tree.json";
    const FIELDS: &'static [&'static str] =
        &["cipher_suite", "sender_data", "encryption_secret", "leaves"];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());
        let sd = &e.sender_data;
        let (key, nonce) = sender_data_key_nonce(cs, &sd.sender_data_secret, &sd.ciphertext)
            .or_fail("sender_data.key")?;
        check_bytes("sender_data.key", &sd.key, &key)?;
        check_bytes("sender_data.nonce", &sd.nonce, &nonce)?;

        let n =
            u32::try_from(e.leaves.len()).map_err(|_| Finding::Error("too many leaves".into()))?;
        let tree = Tree::new(cs, &e.encryption_secret, n);
        for (i, gens) in e.leaves.iter().enumerate() {
            for (j, g) in gens.iter().enumerate() {
                let at = format!("leaves[{i}][{j}]");
                for (kind, exp_key, exp_nonce, name) in [
                    (
                        RatchetKind::Handshake,
                        &g.handshake_key,
                        &g.handshake_nonce,
                        "handshake",
                    ),
                    (
                        RatchetKind::Application,
                        &g.application_key,
                        &g.application_nonce,
                        "application",
                    ),
                ] {
                    let (key, nonce) = tree
                        .key_nonce(i as u32, kind, g.generation)
                        .or_fail(&format!("{at}.{name}_key"))?;
                    check_bytes(&format!("{at}.{name}_key"), exp_key, &key)?;
                    check_bytes(&format!("{at}.{name}_nonce"), exp_nonce, &nonce)?;
                }
            }
        }
        Ok(Vec::new())
    }
}
