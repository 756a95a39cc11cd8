//! `crypto-basics.json`: the labelled primitives of RFC 9420 §5.
//!
//! Format: `[{ "cipher_suite": u16,
//!   "ref_hash": { "label", "value", "out" },
//!   "expand_with_label": { "secret", "label", "context", "length", "out" },
//!   "derive_secret": { "secret", "label", "out" },
//!   "derive_tree_secret": { "secret", "label", "generation", "length", "out" },
//!   "sign_with_label": { "priv", "pub", "content", "label", "signature" },
//!   "encrypt_with_label": { "priv", "pub", "label", "context", "plaintext", "kem_output",
//!                           "ciphertext" } }]` (labels are strings, everything else hex).
//!
//! Verification:
//! - `out == RefHash(label, value)`
//! - `out == ExpandWithLabel(secret, label, context, length)`
//! - `out == DeriveSecret(secret, label)`
//! - `out == DeriveTreeSecret(secret, label, generation, length)`
//! - `VerifyWithLabel(pub, label, content, signature)` and
//!   `VerifyWithLabel(pub, label, content, SignWithLabel(priv, label, content))`
//! - `DecryptWithLabel(priv, label, context, kem_output, ciphertext) == plaintext`, and the same
//!   for a fresh `EncryptWithLabel(pub, label, context, plaintext)`.

use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::load::Hex;
use crate::verdict::{check_bytes, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RefHash {
    pub label: String,
    pub value: Hex,
    pub out: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExpandWithLabel {
    pub secret: Hex,
    pub label: String,
    pub context: Hex,
    pub length: u16,
    pub out: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DeriveSecret {
    pub secret: Hex,
    pub label: String,
    pub out: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DeriveTreeSecret {
    pub secret: Hex,
    pub label: String,
    pub generation: u32,
    pub length: u16,
    pub out: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SignWithLabel {
    #[serde(rename = "priv")]
    pub private: Hex,
    #[serde(rename = "pub")]
    pub public: Hex,
    pub content: Hex,
    pub label: String,
    pub signature: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EncryptWithLabel {
    #[serde(rename = "priv")]
    pub private: Hex,
    #[serde(rename = "pub")]
    pub public: Hex,
    pub label: String,
    pub context: Hex,
    pub plaintext: Hex,
    pub kem_output: Hex,
    pub ciphertext: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub ref_hash: RefHash,
    pub expand_with_label: ExpandWithLabel,
    pub derive_secret: DeriveSecret,
    pub derive_tree_secret: DeriveTreeSecret,
    pub sign_with_label: SignWithLabel,
    pub encrypt_with_label: EncryptWithLabel,
}

pub struct CryptoBasics;

impl VectorFile for CryptoBasics {
    const FILE: &'static str = "crypto-basics.json";
    const FIELDS: &'static [&'static str] = &[
        "cipher_suite",
        "ref_hash",
        "expand_with_label",
        "derive_secret",
        "derive_tree_secret",
        "sign_with_label",
        "encrypt_with_label",
    ];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());

        let r = &e.ref_hash;
        let out = cs
            .ref_hash(r.label.as_bytes(), &r.value)
            .or_fail("ref_hash.out")?;
        check_bytes("ref_hash.out", &r.out, &out)?;

        let x = &e.expand_with_label;
        let out = cs
            .expand_with_label(&x.secret, x.label.as_bytes(), &x.context, x.length)
            .or_fail("expand_with_label.out")?;
        check_bytes("expand_with_label.out", &x.out, &out)?;

        let d = &e.derive_secret;
        let out = cs
            .derive_secret(&d.secret, d.label.as_bytes())
            .or_fail("derive_secret.out")?;
        check_bytes("derive_secret.out", &d.out, &out)?;

        let t = &e.derive_tree_secret;
        let out = cs
            .derive_tree_secret(&t.secret, t.label.as_bytes(), t.generation, t.length)
            .or_fail("derive_tree_secret.out")?;
        check_bytes("derive_tree_secret.out", &t.out, &out)?;

        let s = &e.sign_with_label;
        cs.verify_with_label(&s.public, s.label.as_bytes(), &s.content, &s.signature)
            .or_fail("sign_with_label.signature")?;
        let fresh = cs
            .sign_with_label(&s.private, s.label.as_bytes(), &s.content)
            .or_fail("sign_with_label (fresh SignWithLabel with priv)")?;
        cs.verify_with_label(&s.public, s.label.as_bytes(), &s.content, &fresh)
            .or_fail("sign_with_label (VerifyWithLabel of a fresh signature)")?;

        let h = &e.encrypt_with_label;
        let label = h.label.as_bytes();
        let pt = cs
            .decrypt_with_label(&h.private, label, &h.context, &h.kem_output, &h.ciphertext)
            .or_fail("encrypt_with_label.ciphertext")?;
        check_bytes("encrypt_with_label.plaintext", &h.plaintext, &pt)?;
        let (kem, ct) = cs
            .encrypt_with_label(&h.public, label, &h.context, &h.plaintext)
            .or_fail("encrypt_with_label (fresh EncryptWithLabel with pub)")?;
        let pt = cs
            .decrypt_with_label(&h.private, label, &h.context, &kem, &ct)
            .or_fail("encrypt_with_label (DecryptWithLabel of a fresh ciphertext)")?;
        check_bytes(
            "encrypt_with_label.plaintext (fresh round trip)",
            &h.plaintext,
            &pt,
        )?;
        Ok(Vec::new())
    }
}
