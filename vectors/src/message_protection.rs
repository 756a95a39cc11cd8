//! `message-protection.json`: PublicMessage and PrivateMessage protection (RFC 9420 §6.2, §6.3).
//!
//! Format: `[{ "cipher_suite": u16, "group_id", "epoch": u64, "tree_hash",
//!   "confirmed_transcript_hash", "signature_priv", "signature_pub", "encryption_secret",
//!   "sender_data_secret", "membership_key", "proposal", "proposal_pub", "proposal_priv",
//!   "commit", "commit_pub", "commit_priv", "application", "application_priv" }]` (hex).
//!
//! Verification, with `GroupContext{suite, group_id, epoch, tree_hash,
//! confirmed_transcript_hash, {}}`, a secret tree of 2 leaves over `encryption_secret` and the
//! member with leaf index 1 as sender:
//! - `*_pub` unprotects: `membership_tag == MAC(membership_key, AuthenticatedContentTBM)`,
//!   `VerifyWithLabel(signature_pub, "FramedContentTBS", FramedContentTBS, signature)`, and the
//!   content is the raw `proposal` / `commit`;
//! - protecting the raw value as a PublicMessage (with `signature_priv`, `membership_key`)
//!   gives one that unprotects; for `application` protecting as a PublicMessage is refused;
//! - `*_priv` unprotects: `SenderData = AEAD.Open(sender_data_key/nonce(ciphertext[..Nh]),
//!   SenderDataAAD)`, the content key/nonce of (leaf, generation) from the handshake or
//!   application ratchet with the reuse guard XORed into the nonce, `PrivateMessageContent =
//!   AEAD.Open(key, nonce, PrivateContentAAD)`, zero padding, a valid signature, and the content
//!   is the raw value;
//! - protecting the raw value as a PrivateMessage gives one that unprotects.
//!
//! openmls keeps framing private, so protection is computed with `framing`; openmls's public
//! decoder must also read and re-encode every given message.

use crate::Error;
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::{MlsMessageIn, OpenMlsCrypto};
use serde::{Deserialize, Serialize};

use crate::codec::{Reader, Writer};
use crate::crypto::Cs;
use crate::framing::{
    content_body, expect_mls_message, parse_content, FramedContent, Sender, CONTENT_APPLICATION,
    CONTENT_COMMIT, WIRE_PRIVATE_MESSAGE, WIRE_PUBLIC_MESSAGE,
};
use crate::load::Hex;
use crate::schedule::{group_context, sender_data_key_nonce, RatchetKind, SecretTree};
use crate::verdict::{check_bytes, check_eq, Checked, Finding, OrFail};
use crate::{suite_support, Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub cipher_suite: u16,
    pub group_id: Hex,
    pub epoch: u64,
    pub tree_hash: Hex,
    pub confirmed_transcript_hash: Hex,
    pub signature_priv: Hex,
    pub signature_pub: Hex,
    pub encryption_secret: Hex,
    pub sender_data_secret: Hex,
    pub membership_key: Hex,
    pub proposal: Hex,
    pub proposal_pub: Hex,
    pub proposal_priv: Hex,
    pub commit: Hex,
    pub commit_pub: Hex,
    pub commit_priv: Hex,
    pub application: Hex,
    pub application_priv: Hex,
}

/// The keys of one epoch that protect and unprotect messages.
pub struct Keys<'a, C: OpenMlsCrypto> {
    pub cs: Cs<'a, C>,
    pub group_context: Vec<u8>,
    pub group_id: Vec<u8>,
    pub epoch: u64,
    pub membership_key: Vec<u8>,
    pub sender_data_secret: Vec<u8>,
    pub tree: SecretTree<'a, C>,
}

/// What an unprotected message held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unprotected {
    pub sender: u32,
    pub content_type: u8,
    /// Application data, or the encoded Proposal / Commit.
    pub content: Vec<u8>,
}

fn auth_data(signature: &[u8], confirmation_tag: Option<&[u8]>) -> Vec<u8> {
    let mut w = Writer::new();
    w.opaque(signature);
    if let Some(tag) = confirmation_tag {
        w.opaque(tag);
    }
    w.into_bytes()
}

impl<C: OpenMlsCrypto> Keys<'_, C> {
    fn ratchet(content_type: u8) -> RatchetKind {
        if content_type == CONTENT_APPLICATION {
            RatchetKind::Application
        } else {
            RatchetKind::Handshake
        }
    }

    /// A confirmation tag for commits we protect: any MAC value (the vector gives no
    /// confirmation key, and unprotection does not check it).
    fn placeholder_tag(&self, content: &FramedContent) -> Result<Option<Vec<u8>>, String> {
        if content.content_type == CONTENT_COMMIT {
            Ok(Some(self.cs.mac(&self.membership_key, &content.raw)?))
        } else {
            Ok(None)
        }
    }

    pub fn protect_public(
        &self,
        sender: u32,
        content_type: u8,
        content: &[u8],
        signature_priv: &[u8],
    ) -> Result<Vec<u8>, String> {
        if content_type == CONTENT_APPLICATION {
            return Err("application data must not be sent as a PublicMessage (§6.2)".into());
        }
        let fc = FramedContent::build(
            &self.group_id,
            self.epoch,
            Sender::Member(sender),
            &[],
            content_type,
            content,
        );
        let tbs = fc.tbs(WIRE_PUBLIC_MESSAGE, &self.group_context);
        let signature = self
            .cs
            .sign_with_label(signature_priv, b"FramedContentTBS", &tbs)?;
        let auth = auth_data(&signature, self.placeholder_tag(&fc)?.as_deref());
        let mut tbm = tbs.clone();
        tbm.extend_from_slice(&auth);
        let membership_tag = self.cs.mac(&self.membership_key, &tbm)?;
        let mut w = Writer::new();
        w.u16(1)
            .u16(WIRE_PUBLIC_MESSAGE)
            .raw(&fc.raw)
            .raw(&auth)
            .opaque(&membership_tag);
        Ok(w.into_bytes())
    }

    pub fn unprotect_public(
        &self,
        bytes: &[u8],
        signature_pub: &[u8],
    ) -> Result<Unprotected, String> {
        let mut r = expect_mls_message(bytes, WIRE_PUBLIC_MESSAGE).map_err(|e| e.to_string())?;
        let fc = FramedContent::parse(&mut r).map_err(|e| e.to_string())?;
        let auth_start = r.position();
        let signature = r.opaque("signature").map_err(|e| e.to_string())?.to_vec();
        if fc.content_type == CONTENT_COMMIT {
            r.opaque("confirmation_tag").map_err(|e| e.to_string())?;
        }
        let auth = r.slice(auth_start, r.position()).to_vec();
        let Sender::Member(sender) = fc.sender else {
            return Err(format!("sender {:?} is not a member", fc.sender));
        };
        let membership_tag = r
            .opaque("membership_tag")
            .map_err(|e| e.to_string())?
            .to_vec();
        r.finish("PublicMessage").map_err(|e| e.to_string())?;
        check_group(&fc.group_id, fc.epoch, &self.group_id, self.epoch)?;
        let tbs = fc.tbs(WIRE_PUBLIC_MESSAGE, &self.group_context);
        let mut tbm = tbs.clone();
        tbm.extend_from_slice(&auth);
        if self.cs.mac(&self.membership_key, &tbm)? != membership_tag {
            return Err("membership_tag does not verify".into());
        }
        self.cs
            .verify_with_label(signature_pub, b"FramedContentTBS", &tbs, &signature)?;
        Ok(Unprotected {
            sender,
            content_type: fc.content_type,
            content: fc.content,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn protect_private(
        &self,
        sender: u32,
        generation: u32,
        reuse_guard: [u8; 4],
        content_type: u8,
        content: &[u8],
        signature_priv: &[u8],
        padding: usize,
    ) -> Result<Vec<u8>, String> {
        let fc = FramedContent::build(
            &self.group_id,
            self.epoch,
            Sender::Member(sender),
            &[],
            content_type,
            content,
        );
        let tbs = fc.tbs(WIRE_PRIVATE_MESSAGE, &self.group_context);
        let signature = self
            .cs
            .sign_with_label(signature_priv, b"FramedContentTBS", &tbs)?;
        let mut plaintext = content_body(content_type, content);
        plaintext.extend_from_slice(&auth_data(
            &signature,
            self.placeholder_tag(&fc)?.as_deref(),
        ));
        plaintext.resize(plaintext.len() + padding, 0);
        let (key, mut nonce) =
            self.tree
                .key_nonce(sender, Self::ratchet(content_type), generation)?;
        for (n, g) in nonce.iter_mut().zip(reuse_guard) {
            *n ^= g;
        }
        let mut aad = Writer::new();
        aad.opaque(&self.group_id)
            .u64(self.epoch)
            .u8(content_type)
            .opaque(&[]);
        let ciphertext = self.cs.aead_seal(&key, &nonce, &aad.buf, &plaintext)?;
        let mut sd = Writer::new();
        sd.u32(sender).u32(generation).raw(&reuse_guard);
        let (sd_key, sd_nonce) =
            sender_data_key_nonce(self.cs, &self.sender_data_secret, &ciphertext)?;
        let mut sd_aad = Writer::new();
        sd_aad
            .opaque(&self.group_id)
            .u64(self.epoch)
            .u8(content_type);
        let encrypted_sender_data = self
            .cs
            .aead_seal(&sd_key, &sd_nonce, &sd_aad.buf, &sd.buf)?;
        let mut w = Writer::new();
        w.u16(1)
            .u16(WIRE_PRIVATE_MESSAGE)
            .opaque(&self.group_id)
            .u64(self.epoch)
            .u8(content_type)
            .opaque(&[])
            .opaque(&encrypted_sender_data)
            .opaque(&ciphertext);
        Ok(w.into_bytes())
    }

    pub fn unprotect_private(
        &self,
        bytes: &[u8],
        signature_pub: &[u8],
    ) -> Result<Unprotected, String> {
        let e = |e: Error| e.to_string();
        let mut r = expect_mls_message(bytes, WIRE_PRIVATE_MESSAGE).map_err(e)?;
        let group_id = r.opaque("PrivateMessage.group_id").map_err(e)?.to_vec();
        let epoch = r.u64("PrivateMessage.epoch").map_err(e)?;
        let content_type = r.u8("PrivateMessage.content_type").map_err(e)?;
        let authenticated_data = r
            .opaque("PrivateMessage.authenticated_data")
            .map_err(e)?
            .to_vec();
        let encrypted_sender_data = r
            .opaque("PrivateMessage.encrypted_sender_data")
            .map_err(e)?;
        let ciphertext = r.opaque("PrivateMessage.ciphertext").map_err(e)?;
        r.finish("PrivateMessage").map_err(e)?;
        check_group(&group_id, epoch, &self.group_id, self.epoch)?;

        let (sd_key, sd_nonce) =
            sender_data_key_nonce(self.cs, &self.sender_data_secret, ciphertext)?;
        let mut sd_aad = Writer::new();
        sd_aad.opaque(&group_id).u64(epoch).u8(content_type);
        let sd = self
            .cs
            .aead_open(&sd_key, &sd_nonce, &sd_aad.buf, encrypted_sender_data)?;
        let mut sdr = Reader::new(&sd);
        let leaf = sdr.u32("SenderData.leaf_index").map_err(e)?;
        let generation = sdr.u32("SenderData.generation").map_err(e)?;
        let guard = sdr.bytes(4, "SenderData.reuse_guard").map_err(e)?.to_vec();
        sdr.finish("SenderData").map_err(e)?;

        let (key, mut nonce) =
            self.tree
                .key_nonce(leaf, Self::ratchet(content_type), generation)?;
        for (n, g) in nonce.iter_mut().zip(guard) {
            *n ^= g;
        }
        let mut aad = Writer::new();
        aad.opaque(&group_id)
            .u64(epoch)
            .u8(content_type)
            .opaque(&authenticated_data);
        let plaintext = self.cs.aead_open(&key, &nonce, &aad.buf, ciphertext)?;
        let mut pr = Reader::new(&plaintext);
        // The content select is keyed by the content type outside the ciphertext.
        let mut typed = vec![content_type];
        typed.extend_from_slice(&plaintext);
        let mut tr = Reader::new(&typed);
        let (_, content) = parse_content(&mut tr).map_err(e)?;
        pr.bytes(tr.position() - 1, "PrivateMessageContent.content")
            .map_err(e)?;
        let signature = pr
            .opaque("FramedContentAuthData.signature")
            .map_err(e)?
            .to_vec();
        if content_type == CONTENT_COMMIT {
            pr.opaque("FramedContentAuthData.confirmation_tag")
                .map_err(e)?;
        }
        while !pr.is_empty() {
            if pr.u8("padding").map_err(e)? != 0 {
                return Err("PrivateMessageContent.padding is not all zero".into());
            }
        }
        let fc = FramedContent::build(
            &group_id,
            epoch,
            Sender::Member(leaf),
            &authenticated_data,
            content_type,
            &content,
        );
        let tbs = fc.tbs(WIRE_PRIVATE_MESSAGE, &self.group_context);
        self.cs
            .verify_with_label(signature_pub, b"FramedContentTBS", &tbs, &signature)?;
        Ok(Unprotected {
            sender: leaf,
            content_type,
            content,
        })
    }
}

fn check_group(group_id: &[u8], epoch: u64, want_id: &[u8], want_epoch: u64) -> Result<(), String> {
    if group_id != want_id || epoch != want_epoch {
        return Err(format!(
            "message is for group {} epoch {epoch}, not {} epoch {want_epoch}",
            hex::encode(group_id),
            hex::encode(want_id)
        ));
    }
    Ok(())
}

fn openmls_round_trip(field: &str, bytes: &[u8]) -> Result<(), Finding> {
    let msg = MlsMessageIn::tls_deserialize_exact(bytes)
        .map_err(|e| Finding::fail(field, "decodable by openmls", e.to_string()))?;
    let again = msg
        .tls_serialize_detached()
        .map_err(|e| Finding::fail(field, "re-encodable by openmls", e.to_string()))?;
    check_bytes(&format!("{field} (openmls re-encoded)"), bytes, &again)
}

pub struct MessageProtection;

impl VectorFile for MessageProtection {
    const FILE: &'static str = "message-protection.json";
    const FIELDS: &'static [&'static str] = &[
        "cipher_suite",
        "group_id",
        "epoch",
        "tree_hash",
        "confirmed_transcript_hash",
        "signature_priv",
        "signature_pub",
        "encryption_secret",
        "sender_data_secret",
        "membership_key",
        "proposal",
        "proposal_priv",
        "proposal_pub",
        "commit",
        "commit_priv",
        "commit_pub",
        "application",
        "application_priv",
    ];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, provider: &B) -> Checked {
        let suite = suite_support(provider.crypto(), B::NAME, e.cipher_suite)
            .map_err(Finding::Unsupported)?;
        let cs = Cs::new(suite, provider.crypto());
        let keys = Keys {
            cs,
            group_context: group_context(
                e.cipher_suite,
                &e.group_id,
                e.epoch,
                &e.tree_hash,
                &e.confirmed_transcript_hash,
                &[],
            ),
            group_id: e.group_id.0.clone(),
            epoch: e.epoch,
            membership_key: e.membership_key.0.clone(),
            sender_data_secret: e.sender_data_secret.0.clone(),
            tree: SecretTree::new(cs, &e.encryption_secret, 2),
        };
        let sender = 1;
        let cases: [(&str, u8, &Hex, Option<&Hex>, &Hex); 3] = [
            (
                "proposal",
                2,
                &e.proposal,
                Some(&e.proposal_pub),
                &e.proposal_priv,
            ),
            ("commit", 3, &e.commit, Some(&e.commit_pub), &e.commit_priv),
            ("application", 1, &e.application, None, &e.application_priv),
        ];
        for (name, ct, raw, public, private) in cases {
            let expected = Unprotected {
                sender,
                content_type: ct,
                content: raw.0.clone(),
            };
            if let Some(public) = public {
                let field = format!("{name}_pub");
                openmls_round_trip(&field, public)?;
                let got = keys
                    .unprotect_public(public, &e.signature_pub)
                    .or_fail(&field)?;
                check_eq(&field, &expected, &got)?;
                let fresh = keys
                    .protect_public(sender, ct, raw, &e.signature_priv)
                    .or_fail(&format!("{name} (protected as PublicMessage)"))?;
                let got = keys
                    .unprotect_public(&fresh, &e.signature_pub)
                    .or_fail(&format!("{name} (fresh PublicMessage)"))?;
                check_eq(&format!("{name} (fresh PublicMessage)"), &expected, &got)?;
            } else if keys
                .protect_public(sender, ct, raw, &e.signature_priv)
                .is_ok()
            {
                return Err(Finding::fail(
                    format!("{name} (protected as PublicMessage)"),
                    "refused",
                    "protected",
                ));
            }
            let field = format!("{name}_priv");
            openmls_round_trip(&field, private)?;
            let got = keys
                .unprotect_private(private, &e.signature_pub)
                .or_fail(&field)?;
            check_eq(&field, &expected, &got)?;
            let fresh = keys
                .protect_private(sender, 3, [1, 2, 3, 4], ct, raw, &e.signature_priv, 7)
                .or_fail(&format!("{name} (protected as PrivateMessage)"))?;
            let got = keys
                .unprotect_private(&fresh, &e.signature_pub)
                .or_fail(&format!("{name} (fresh PrivateMessage)"))?;
            check_eq(&format!("{name} (fresh PrivateMessage)"), &expected, &got)?;
        }
        Ok(Vec::new())
    }
}
