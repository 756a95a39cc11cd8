//! The RFC 9420 key schedule (§8), PSK secret (§8.4), secret tree (§9), sender-data keys
//! (§6.3.2), transcript hashes (§8.2) and the GroupContext (§8.1), computed from the provider's
//! primitives because openmls keeps its versions private.
//!
//! ```text
//! joiner_secret  = ExpandWithLabel(Extract(init_secret, commit_secret), "joiner", GroupContext, Nh)
//! member_secret  = Extract(joiner_secret, psk_secret)
//! welcome_secret = DeriveSecret(member_secret, "welcome")
//! epoch_secret   = ExpandWithLabel(member_secret, "epoch", GroupContext, Nh)
//! <secret>       = DeriveSecret(epoch_secret, <label>)   (sender data, encryption, exporter, ...)
//! init_secret'   = DeriveSecret(epoch_secret, "init")
//! MLS-Exporter(L, C, n) = ExpandWithLabel(DeriveSecret(exporter_secret, L), "exported", Hash(C), n)
//! ```

use openmls::prelude::OpenMlsCrypto;

use crate::codec::Writer;
use crate::crypto::{CryptoResult, Cs};
use crate::tree;

/// GroupContext (§8.1) with the given extensions (already encoded as `Extension extensions<V>`
/// content, i.e. without the outer length).
pub fn group_context(
    suite: u16,
    group_id: &[u8],
    epoch: u64,
    tree_hash: &[u8],
    confirmed_transcript_hash: &[u8],
    extensions: &[u8],
) -> Vec<u8> {
    let mut w = Writer::new();
    w.u16(1)
        .u16(suite)
        .opaque(group_id)
        .u64(epoch)
        .opaque(tree_hash)
        .opaque(confirmed_transcript_hash)
        .opaque(extensions);
    w.into_bytes()
}

/// The secrets of one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochSecrets {
    pub joiner_secret: Vec<u8>,
    pub welcome_secret: Vec<u8>,
    pub epoch_secret: Vec<u8>,
    pub init_secret: Vec<u8>,
    pub sender_data_secret: Vec<u8>,
    pub encryption_secret: Vec<u8>,
    pub exporter_secret: Vec<u8>,
    pub epoch_authenticator: Vec<u8>,
    pub external_secret: Vec<u8>,
    pub confirmation_key: Vec<u8>,
    pub membership_key: Vec<u8>,
    pub resumption_psk: Vec<u8>,
}

/// joiner_secret from the previous init secret, the commit secret and the new GroupContext.
pub fn joiner_secret<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    init_secret: &[u8],
    commit_secret: &[u8],
    group_context: &[u8],
) -> CryptoResult<Vec<u8>> {
    let prk = cs.extract(init_secret, commit_secret)?;
    cs.expand_with_label(&prk, b"joiner", group_context, cs.nh() as u16)
}

/// The epoch secrets from the joiner secret, the PSK secret (None: all-zero) and GroupContext.
pub fn epoch_from_joiner<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    joiner_secret: &[u8],
    psk_secret: Option<&[u8]>,
    group_context: &[u8],
) -> CryptoResult<EpochSecrets> {
    let zero = vec![0u8; cs.nh()];
    let member = cs.extract(joiner_secret, psk_secret.unwrap_or(&zero))?;
    let welcome_secret = cs.derive_secret(&member, b"welcome")?;
    let epoch_secret = cs.expand_with_label(&member, b"epoch", group_context, cs.nh() as u16)?;
    let d = |label: &[u8]| cs.derive_secret(&epoch_secret, label);
    Ok(EpochSecrets {
        joiner_secret: joiner_secret.to_vec(),
        welcome_secret,
        init_secret: d(b"init")?,
        sender_data_secret: d(b"sender data")?,
        encryption_secret: d(b"encryption")?,
        exporter_secret: d(b"exporter")?,
        epoch_authenticator: d(b"authentication")?,
        external_secret: d(b"external")?,
        confirmation_key: d(b"confirm")?,
        membership_key: d(b"membership")?,
        resumption_psk: d(b"resumption")?,
        epoch_secret,
    })
}

/// MLS-Exporter(label, context, length).
pub fn exporter<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    exporter_secret: &[u8],
    label: &[u8],
    context: &[u8],
    length: u16,
) -> CryptoResult<Vec<u8>> {
    let derived = cs.derive_secret(exporter_secret, label)?;
    cs.expand_with_label(&derived, b"exported", &cs.hash(context)?, length)
}

/// welcome_key and welcome_nonce (§12.4.3.1) from the welcome secret.
pub fn welcome_key_nonce<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    welcome_secret: &[u8],
) -> CryptoResult<(Vec<u8>, Vec<u8>)> {
    Ok((
        cs.expand_with_label(welcome_secret, b"key", &[], cs.aead_key_len())?,
        cs.expand_with_label(welcome_secret, b"nonce", &[], cs.aead_nonce_len())?,
    ))
}

/// A PreSharedKeyID (§8.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PskId {
    External {
        psk_id: Vec<u8>,
        nonce: Vec<u8>,
    },
    Resumption {
        usage: u8,
        group_id: Vec<u8>,
        epoch: u64,
        nonce: Vec<u8>,
    },
}

impl PskId {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            PskId::External { psk_id, nonce } => {
                w.u8(1).opaque(psk_id).opaque(nonce);
            }
            PskId::Resumption {
                usage,
                group_id,
                epoch,
                nonce,
            } => {
                w.u8(2)
                    .u8(*usage)
                    .opaque(group_id)
                    .u64(*epoch)
                    .opaque(nonce);
            }
        }
        w.into_bytes()
    }
}

/// psk_secret from (PreSharedKeyID, psk) pairs, in order; all-zero for none.
pub fn psk_secret<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    psks: &[(PskId, Vec<u8>)],
) -> CryptoResult<Vec<u8>> {
    let zero = vec![0u8; cs.nh()];
    let count = u16::try_from(psks.len()).map_err(|_| "more than 65535 PSKs".to_owned())?;
    let mut secret = zero.clone();
    for (index, (id, psk)) in psks.iter().enumerate() {
        let extracted = cs.extract(&zero, psk)?;
        let mut label = Writer::new();
        label.raw(&id.encode()).u16(index as u16).u16(count);
        let input = cs.expand_with_label(&extracted, b"derived psk", &label.buf, cs.nh() as u16)?;
        secret = cs.extract(&input, &secret)?;
    }
    Ok(secret)
}

/// sender_data key and nonce (§6.3.2) for a PrivateMessage ciphertext.
pub fn sender_data_key_nonce<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    sender_data_secret: &[u8],
    ciphertext: &[u8],
) -> CryptoResult<(Vec<u8>, Vec<u8>)> {
    let sample = &ciphertext[..ciphertext.len().min(cs.nh())];
    Ok((
        cs.expand_with_label(sender_data_secret, b"key", sample, cs.aead_key_len())?,
        cs.expand_with_label(sender_data_secret, b"nonce", sample, cs.aead_nonce_len())?,
    ))
}

/// Which ratchet of a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatchetKind {
    Handshake,
    Application,
}

impl RatchetKind {
    fn label(self) -> &'static [u8] {
        match self {
            RatchetKind::Handshake => b"handshake",
            RatchetKind::Application => b"application",
        }
    }
}

/// Generations above this are refused (hostile input would otherwise ratchet for hours).
pub const MAX_GENERATION: u32 = 1 << 20;

/// The secret tree (§9) of an epoch.
pub struct SecretTree<'a, C: OpenMlsCrypto> {
    cs: Cs<'a, C>,
    encryption_secret: Vec<u8>,
    n_leaves: u32,
}

impl<'a, C: OpenMlsCrypto> SecretTree<'a, C> {
    /// A tree over `n_leaves` leaves (padded to a power of two, as ratchet trees are).
    pub fn new(cs: Cs<'a, C>, encryption_secret: &[u8], n_leaves: u32) -> Self {
        Self {
            cs,
            encryption_secret: encryption_secret.to_vec(),
            n_leaves: n_leaves.max(1).next_power_of_two(),
        }
    }

    /// tree_node_[2 * leaf]_secret, derived down from the root.
    pub fn leaf_secret(&self, leaf: u32) -> CryptoResult<Vec<u8>> {
        if leaf >= self.n_leaves {
            return Err(format!(
                "leaf {leaf} outside a secret tree of {} leaves",
                self.n_leaves
            ));
        }
        let target = 2 * leaf;
        let mut path = tree::direct_path(target, self.n_leaves);
        path.reverse();
        path.push(target);
        let mut secret = self.encryption_secret.clone();
        for pair in path.windows(2) {
            let side: &[u8] = if pair[1] < pair[0] { b"left" } else { b"right" };
            secret = self
                .cs
                .expand_with_label(&secret, b"tree", side, self.cs.nh() as u16)?;
        }
        Ok(secret)
    }

    /// (key, nonce) of `kind` for `leaf` at `generation`.
    pub fn key_nonce(
        &self,
        leaf: u32,
        kind: RatchetKind,
        generation: u32,
    ) -> CryptoResult<(Vec<u8>, Vec<u8>)> {
        if generation > MAX_GENERATION {
            return Err(format!(
                "generation {generation} above the verifier's limit of {MAX_GENERATION}"
            ));
        }
        let cs = self.cs;
        let mut secret =
            cs.expand_with_label(&self.leaf_secret(leaf)?, kind.label(), &[], cs.nh() as u16)?;
        for g in 0..generation {
            secret = cs.derive_tree_secret(&secret, b"secret", g, cs.nh() as u16)?;
        }
        Ok((
            cs.derive_tree_secret(&secret, b"key", generation, cs.aead_key_len())?,
            cs.derive_tree_secret(&secret, b"nonce", generation, cs.aead_nonce_len())?,
        ))
    }
}

/// (confirmed_transcript_hash, interim_transcript_hash) after a commit: `confirmed_input` is
/// `wire_format || FramedContent || signature`, `confirmation_tag` the MAC.
pub fn transcript_hashes<C: OpenMlsCrypto>(
    cs: Cs<'_, C>,
    interim_before: &[u8],
    confirmed_input: &[u8],
    confirmation_tag: &[u8],
) -> CryptoResult<(Vec<u8>, Vec<u8>)> {
    let mut a = interim_before.to_vec();
    a.extend_from_slice(confirmed_input);
    let confirmed = cs.hash(&a)?;
    let mut b = confirmed.clone();
    b.extend_from_slice(&crate::codec::opaque(confirmation_tag));
    let interim = cs.hash(&b)?;
    Ok((confirmed, interim))
}
