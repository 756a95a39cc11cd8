//! `transcript-hashes.json`: confirmed and interim transcript hashes (RFC 9420 §8.2).
//!
//! Format: `[{ "cipher_suite": u16, "confirmation_key": hex,
//!   "authenticated_content": hex (AuthenticatedContent), "interim_transcript_hash_before": hex,
//!   "confirmed_transcript_hash_after": hex, "interim_transcript_hash_after": hex }]`.
//!
//! Verification:
//! - `authenticated_content` holds a Commit, and its `auth.confirmation_tag ==
//!   MAC(confirmation_key, confirmed_transcript_hash_after)`;
//! - `confirmed_transcript_hash_after == Hash(interim_transcript_hash_before ||
//!   ConfirmedTranscriptHashInput{wire_format, content, auth.signature})`;
//! - `interim_transcript_hash_after == Hash(confirmed_transcript_hash_after ||
//!   InterimTranscriptHashInput{confirmation_tag})`.

use serde::{Deserialize, Serialize};

use crate::crypto::Cs;
use crate::framing::AuthenticatedContent;
use crate::load::Hex;
use crate::schedule::transcript_hashes;
use crate::verdict::{check_bytes, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub confirmation_key: Hex,
    pub authenticated_content: Hex,
    pub interim_transcript_hash_before: Hex,
    pub confirmed_transcript_hash_after: Hex,
    pub interim_transcript_hash_after: Hex,
}

pub struct TranscriptHashes;

impl VectorFile for TranscriptHashes {
    const FILE: &'static str = "transcript-hashes.json";
    const FIELDS: &'static [&'static str] = &[
        "cipher_suite",
        "confirmation_key",
        "authenticated_content",
        "interim_transcript_hash_before",
        "confirmed_transcript_hash_after",
        "interim_transcript_hash_after",
    ];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());
        let ac = AuthenticatedContent::from_bytes(&e.authenticated_content)
            .or_fail("authenticated_content")?;
        let Some(tag) = &ac.confirmation_tag else {
            return Err(Finding::fail(
                "authenticated_content.content.content_type",
                "commit",
                ac.content.content_type.to_string(),
            ));
        };
        let mac = cs
            .mac(&e.confirmation_key, &e.confirmed_transcript_hash_after)
            .or_fail("authenticated_content.auth.confirmation_tag")?;
        check_bytes("authenticated_content.auth.confirmation_tag", tag, &mac)?;
        let (confirmed, interim) = transcript_hashes(
            cs,
            &e.interim_transcript_hash_before,
            &ac.confirmed_transcript_input(),
            tag,
        )
        .or_fail("confirmed_transcript_hash_after")?;
        check_bytes(
            "confirmed_transcript_hash_after",
            &e.confirmed_transcript_hash_after,
            &confirmed,
        )?;
        check_bytes(
            "interim_transcript_hash_after",
            &e.interim_transcript_hash_after,
            &interim,
        )?;
        Ok(Vec::new())
    }
}
