//! `psk_secret.json`: the PSK secret (RFC 9420 §8.4).
//!
//! Format: `[{ "cipher_suite": u16, "psks": [{ "psk_id", "psk", "psk_nonce" }],
//! "psk_secret": hex }]`.
//!
//! Verification: with `id[i]` the external PreSharedKeyID of `psk_id`/`psk_nonce`, `n` PSKs,
//! `psk_secret[0] = 0^Nh`,
//! `psk_input[i] = ExpandWithLabel(Extract(0^Nh, psk[i]), "derived psk",
//!                                 PSKLabel{id[i], i, n}, Nh)`,
//! `psk_secret[i+1] = Extract(psk_input[i], psk_secret[i])`; `psk_secret == psk_secret[n]`.

use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::load::Hex;
use crate::schedule::{psk_secret, PskId};
use crate::verdict::{check_bytes, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Psk {
    pub psk_id: Hex,
    pub psk: Hex,
    pub psk_nonce: Hex,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub psks: Vec<Psk>,
    pub psk_secret: Hex,
}

pub struct PskSecret;

impl VectorFile for PskSecret {
    const FILE: &'static str = "psk_secret.json";
    const FIELDS: &'static [&'static str] = &["cipher_suite", "psks", "psk_secret"];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());
        let psks: Vec<(PskId, Vec<u8>)> = e
            .psks
            .iter()
            .map(|p| {
                (
                    PskId::External {
                        psk_id: p.psk_id.0.clone(),
                        nonce: p.psk_nonce.0.clone(),
                    },
                    p.psk.0.clone(),
                )
            })
            .collect();
        let out = psk_secret(cs, &psks).or_fail("psk_secret")?;
        check_bytes("psk_secret", &e.psk_secret, &out)?;
        Ok(Vec::new())
    }
}
