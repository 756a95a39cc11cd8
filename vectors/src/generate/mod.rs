//! Our own vectors in the official formats, for suites no official vector covers (the polyproto
//! hybrid suite `0xF110`, carried on the MLS wire as `0x004F`: X-Wing, AES-128-GCM, SHA-256,
//! Ed25519).
//!
//! Generation is deterministic from a seed: every random value (secrets, keys, nonces, the
//! X-Wing encapsulation randomness) comes from a ChaCha20 RNG seeded with it, never from the
//! provider's OS randomness. The providers' HPKE seal draws OS randomness, so sealing is done
//! here (RFC 9180 base mode on the provider's HKDF and AEAD, with X-Wing encapsulation from the
//! `x-wing` crate with explicit randomness); the verifiers then open every ciphertext with each
//! provider's own HPKE, which checks this sealing independently.
//!
//! Files: crypto-basics, secret-tree, key-schedule, psk_secret, transcript-hashes,
//! message-protection, welcome and treekem (a simulated group, see [`treekem`]).

mod treekem;

use std::path::Path;

use openmls::prelude::{Ciphersuite, OpenMlsCrypto, OpenMlsProvider};
use openmls_rust_crypto::OpenMlsRustCrypto;
use openmls_traits::types::{AeadType, HpkeAeadType, HpkeKdfType, HpkeKemType};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use crate::codec::Writer;
use crate::crypto::Cs;
use crate::framing::{FramedContent, Sender, CONTENT_COMMIT, WIRE_PUBLIC_MESSAGE};
use crate::load::Hex;
use crate::message_protection::Keys;
use crate::schedule::{self, PskId, RatchetKind, SecretTree};
use crate::tree::{LeafNode, LeafSource, LeafSpec};
use crate::{crypto_basics, key_schedule, message_protection, psk_secret, secret_tree};
use crate::{transcript_hashes, welcome};

/// Generated files: (file name, JSON text).
pub type Files = Vec<(&'static str, String)>;

/// The HPKE KEM identifier of X-Wing (draft-connolly-cfrg-xwing-kem-06), as hpke-rs uses it.
const XWING_HPKE_KEM_ID: u16 = 0x647a;

struct Gen<'a> {
    rng: ChaCha20Rng,
    cs: Cs<'a, <OpenMlsRustCrypto as OpenMlsProvider>::CryptoProvider>,
    wire: u16,
}

fn hex(v: Vec<u8>) -> Hex {
    Hex(v)
}

impl Gen<'_> {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill_bytes(&mut v);
        v
    }

    fn secret(&mut self) -> Vec<u8> {
        self.bytes(self.cs.nh())
    }

    /// An Ed25519 key pair from the RNG: (private seed, public key).
    fn signature_key(&mut self) -> (Vec<u8>, Vec<u8>) {
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        (seed.to_vec(), sk.verifying_key().to_bytes().to_vec())
    }

    /// An HPKE key pair from the RNG (KEM.DeriveKeyPair of random input key material).
    fn hpke_key(&mut self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let ikm = self.secret();
        self.cs.derive_key_pair(&ikm)
    }

    /// HPKE LabeledExtract / LabeledExpand (RFC 9180 §4).
    fn suite_id(&self) -> Vec<u8> {
        let s = self.cs.suite;
        let mut id = b"HPKE".to_vec();
        id.extend_from_slice(&XWING_HPKE_KEM_ID.to_be_bytes());
        id.extend_from_slice(&(s.hpke_kdf_algorithm() as u16).to_be_bytes());
        id.extend_from_slice(&(s.hpke_aead_algorithm() as u16).to_be_bytes());
        id
    }

    fn labeled_extract(&self, salt: &[u8], label: &[u8], ikm: &[u8]) -> Result<Vec<u8>, String> {
        let mut input = b"HPKE-v1".to_vec();
        input.extend_from_slice(&self.suite_id());
        input.extend_from_slice(label);
        input.extend_from_slice(ikm);
        self.cs.extract(salt, &input)
    }

    fn labeled_expand(
        &self,
        prk: &[u8],
        label: &[u8],
        info: &[u8],
        len: u16,
    ) -> Result<Vec<u8>, String> {
        let mut input = len.to_be_bytes().to_vec();
        input.extend_from_slice(b"HPKE-v1");
        input.extend_from_slice(&self.suite_id());
        input.extend_from_slice(label);
        input.extend_from_slice(info);
        self.cs.expand(prk, &input, usize::from(len))
    }

    /// SealBase(pkR, info, aad, pt) with X-Wing encapsulation randomness from the RNG.
    fn seal_base(
        &mut self,
        pk: &[u8],
        info: &[u8],
        aad: &[u8],
        pt: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), String> {
        let mut randomness = [0u8; x_wing::ENCAPSULATION_RANDOMNESS_SIZE];
        self.rng.fill_bytes(&mut randomness);
        let ek = x_wing::EncapsulationKey::try_from(pk)
            .map_err(|_| "invalid X-Wing public key".to_owned())?;
        let (enc, shared) = ek.encapsulate_deterministic(&hybrid_array::Array::from(randomness));
        let psk_id_hash = self.labeled_extract(&[], b"psk_id_hash", &[])?;
        let info_hash = self.labeled_extract(&[], b"info_hash", info)?;
        let mut context = vec![0u8];
        context.extend_from_slice(&psk_id_hash);
        context.extend_from_slice(&info_hash);
        let secret = self.labeled_extract(shared.as_slice(), b"secret", &[])?;
        let key = self.labeled_expand(&secret, b"key", &context, self.cs.aead_key_len())?;
        let nonce =
            self.labeled_expand(&secret, b"base_nonce", &context, self.cs.aead_nonce_len())?;
        let ct = self.cs.aead_seal(&key, &nonce, aad, pt)?;
        Ok((enc.as_slice().to_vec(), ct))
    }

    /// EncryptWithLabel with deterministic sealing.
    fn encrypt_with_label(
        &mut self,
        pk: &[u8],
        label: &[u8],
        context: &[u8],
        pt: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), String> {
        let mut full = b"MLS 1.0 ".to_vec();
        full.extend_from_slice(label);
        let mut info = Writer::new();
        info.opaque(&full).opaque(context);
        self.seal_base(pk, &info.buf, &[], pt)
    }
}

/// Generates every supported file for MLS wire suite `wire`.
pub fn generate(wire: u16, seed: u64) -> Result<Files, String> {
    let suite = Ciphersuite::try_from(wire)
        .map_err(|_| format!("0x{wire:04X} is not a cipher suite openmls 0.9.2 knows"))?;
    if suite.hpke_kem_algorithm() != HpkeKemType::XWingKemDraft6
        || suite.hpke_kdf_algorithm() != HpkeKdfType::HkdfSha256
        || !matches!(
            (suite.hpke_aead_algorithm(), suite.aead_algorithm()),
            (HpkeAeadType::AesGcm128, AeadType::Aes128Gcm)
                | (HpkeAeadType::AesGcm256, AeadType::Aes256Gcm)
                | (HpkeAeadType::ChaCha20Poly1305, AeadType::ChaCha20Poly1305)
        )
    {
        return Err(format!(
            "{suite:?}: generation implements deterministic HPKE for X-Wing suites with HKDF-SHA256 only"
        ));
    }
    let provider = OpenMlsRustCrypto::default();
    provider
        .crypto()
        .supports(suite)
        .map_err(|e| format!("openmls_rust_crypto cannot compute {suite:?}: {e:?}"))?;
    let mut g = Gen {
        rng: ChaCha20Rng::seed_from_u64(seed),
        cs: Cs::new(suite, provider.crypto()),
        wire,
    };
    let files: Files = vec![
        ("crypto-basics.json", json(&[crypto_basics(&mut g)?])?),
        (
            "secret-tree.json",
            json(&[secret_tree(&mut g, 1)?, secret_tree(&mut g, 8)?])?,
        ),
        ("key-schedule.json", json(&[key_schedule(&mut g)?])?),
        (
            "psk_secret.json",
            json(&[psk(&mut g, 0)?, psk(&mut g, 1)?, psk(&mut g, 3)?])?,
        ),
        ("transcript-hashes.json", json(&[transcript(&mut g)?])?),
        (
            "message-protection.json",
            json(&[message_protection(&mut g)?])?,
        ),
        ("welcome.json", json(&[welcome(&mut g)?])?),
        ("treekem.json", json(&treekem::treekem(&mut g)?)?),
    ];
    Ok(files)
}

fn json<T: Serialize>(entries: &[T]) -> Result<String, String> {
    serde_json::to_string_pretty(entries)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

/// Writes the files into `dir`.
pub fn write(dir: &Path, files: &Files) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in files {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

fn crypto_basics(g: &mut Gen<'_>) -> Result<crypto_basics::Entry, String> {
    let cs = g.cs;
    let value = g.secret();
    let ref_hash = crypto_basics::RefHash {
        label: "RefHash".into(),
        out: hex(cs.ref_hash(b"RefHash", &value)?),
        value: hex(value),
    };
    let (secret, context) = (g.secret(), g.secret());
    let expand_with_label = crypto_basics::ExpandWithLabel {
        out: hex(cs.expand_with_label(&secret, b"ExpandWithLabel", &context, 16)?),
        secret: hex(secret),
        label: "ExpandWithLabel".into(),
        context: hex(context),
        length: 16,
    };
    let secret = g.secret();
    let derive_secret = crypto_basics::DeriveSecret {
        out: hex(cs.derive_secret(&secret, b"DeriveSecret")?),
        secret: hex(secret),
        label: "DeriveSecret".into(),
    };
    let secret = g.secret();
    let generation: u32 = g.rng.gen();
    let derive_tree_secret = crypto_basics::DeriveTreeSecret {
        out: hex(cs.derive_tree_secret(&secret, b"DeriveTreeSecret", generation, 32)?),
        secret: hex(secret),
        label: "DeriveTreeSecret".into(),
        generation,
        length: 32,
    };
    let (sk, pk) = g.signature_key();
    let content = g.secret();
    let sign_with_label = crypto_basics::SignWithLabel {
        signature: hex(cs.sign_with_label(&sk, b"SignWithLabel", &content)?),
        private: hex(sk),
        public: hex(pk),
        content: hex(content),
        label: "SignWithLabel".into(),
    };
    let (sk, pk) = g.hpke_key()?;
    let (context, plaintext) = (g.secret(), g.secret());
    let (kem_output, ciphertext) =
        g.encrypt_with_label(&pk, b"EncryptWithLabel", &context, &plaintext)?;
    let encrypt_with_label = crypto_basics::EncryptWithLabel {
        private: hex(sk),
        public: hex(pk),
        label: "EncryptWithLabel".into(),
        context: hex(context),
        plaintext: hex(plaintext),
        kem_output: hex(kem_output),
        ciphertext: hex(ciphertext),
    };
    Ok(crypto_basics::Entry {
        cipher_suite: g.wire,
        ref_hash,
        expand_with_label,
        derive_secret,
        derive_tree_secret,
        sign_with_label,
        encrypt_with_label,
    })
}

fn secret_tree(g: &mut Gen<'_>, n_leaves: u32) -> Result<secret_tree::Entry, String> {
    let cs = g.cs;
    let sender_data_secret = g.secret();
    let ciphertext = g.bytes(77);
    let (key, nonce) = schedule::sender_data_key_nonce(cs, &sender_data_secret, &ciphertext)?;
    let encryption_secret = g.secret();
    let tree = SecretTree::new(cs, &encryption_secret, n_leaves);
    let mut leaves = Vec::new();
    for leaf in 0..n_leaves {
        let mut gens = Vec::new();
        for generation in [0u32, 1, 3, 15] {
            let (hk, hn) = tree.key_nonce(leaf, RatchetKind::Handshake, generation)?;
            let (ak, an) = tree.key_nonce(leaf, RatchetKind::Application, generation)?;
            gens.push(secret_tree::Generation {
                generation,
                handshake_key: hex(hk),
                handshake_nonce: hex(hn),
                application_key: hex(ak),
                application_nonce: hex(an),
            });
        }
        leaves.push(gens);
    }
    Ok(secret_tree::Entry {
        cipher_suite: g.wire,
        sender_data: secret_tree::SenderData {
            sender_data_secret: hex(sender_data_secret),
            ciphertext: hex(ciphertext),
            key: hex(key),
            nonce: hex(nonce),
        },
        encryption_secret: hex(encryption_secret),
        leaves,
    })
}

fn key_schedule(g: &mut Gen<'_>) -> Result<key_schedule::Entry, String> {
    let cs = g.cs;
    let group_id = g.secret();
    let initial_init_secret = g.secret();
    let mut init = initial_init_secret.clone();
    let mut epochs = Vec::new();
    for n in 0..3u64 {
        let (tree_hash, commit_secret, cth) = (g.secret(), g.secret(), g.secret());
        // Epoch 1 has no PSK (all-zero psk_secret), as in the official files.
        let psk_secret = if n == 1 {
            vec![0u8; cs.nh()]
        } else {
            g.secret()
        };
        let gc = schedule::group_context(g.wire, &group_id, n, &tree_hash, &cth, &[]);
        let joiner = schedule::joiner_secret(cs, &init, &commit_secret, &gc)?;
        let s = schedule::epoch_from_joiner(cs, &joiner, Some(&psk_secret), &gc)?;
        let (_, external_pub) = cs.derive_key_pair(&s.external_secret)?;
        let label = hex::encode(g.secret());
        let context = g.secret();
        let exported = schedule::exporter(cs, &s.exporter_secret, label.as_bytes(), &context, 32)?;
        epochs.push(key_schedule::Epoch {
            tree_hash: hex(tree_hash),
            commit_secret: hex(commit_secret),
            psk_secret: hex(psk_secret),
            confirmed_transcript_hash: hex(cth),
            group_context: hex(gc),
            joiner_secret: hex(joiner),
            welcome_secret: hex(s.welcome_secret),
            init_secret: hex(s.init_secret.clone()),
            sender_data_secret: hex(s.sender_data_secret),
            encryption_secret: hex(s.encryption_secret),
            exporter_secret: hex(s.exporter_secret),
            epoch_authenticator: hex(s.epoch_authenticator),
            external_secret: hex(s.external_secret),
            confirmation_key: hex(s.confirmation_key),
            membership_key: hex(s.membership_key),
            resumption_psk: hex(s.resumption_psk),
            external_pub: hex(external_pub),
            exporter: key_schedule::Exporter {
                label,
                context: hex(context),
                length: 32,
                secret: hex(exported),
            },
        });
        init = s.init_secret;
    }
    Ok(key_schedule::Entry {
        cipher_suite: g.wire,
        group_id: hex(group_id),
        initial_init_secret: hex(initial_init_secret),
        epochs,
    })
}

fn psk(g: &mut Gen<'_>, count: usize) -> Result<psk_secret::Entry, String> {
    let mut psks = Vec::new();
    let mut pairs = Vec::new();
    for _ in 0..count {
        let (psk_id, psk, nonce) = (g.secret(), g.secret(), g.secret());
        pairs.push((
            PskId::External {
                psk_id: psk_id.clone(),
                nonce: nonce.clone(),
            },
            psk.clone(),
        ));
        psks.push(psk_secret::Psk {
            psk_id: hex(psk_id),
            psk: hex(psk),
            psk_nonce: hex(nonce),
        });
    }
    Ok(psk_secret::Entry {
        cipher_suite: g.wire,
        psk_secret: hex(schedule::psk_secret(g.cs, &pairs)?),
        psks,
    })
}

/// An empty Commit: no proposals, no path.
const EMPTY_COMMIT: [u8; 2] = [0, 0];

fn transcript(g: &mut Gen<'_>) -> Result<transcript_hashes::Entry, String> {
    let cs = g.cs;
    let (sk, _) = g.signature_key();
    let group_id = g.secret();
    let fc = FramedContent::build(
        &group_id,
        1,
        Sender::Member(0),
        &[],
        CONTENT_COMMIT,
        &EMPTY_COMMIT,
    );
    let gc = schedule::group_context(g.wire, &group_id, 1, &g.secret(), &g.secret(), &[]);
    let signature =
        cs.sign_with_label(&sk, b"FramedContentTBS", &fc.tbs(WIRE_PUBLIC_MESSAGE, &gc))?;
    let mut input = Writer::new();
    input
        .u16(WIRE_PUBLIC_MESSAGE)
        .raw(&fc.raw)
        .opaque(&signature);
    let confirmation_key = g.secret();
    let interim_before = g.secret();
    let mut a = interim_before.clone();
    a.extend_from_slice(&input.buf);
    let confirmed = cs.hash(&a)?;
    let tag = cs.mac(&confirmation_key, &confirmed)?;
    let (confirmed, interim) = schedule::transcript_hashes(cs, &interim_before, &input.buf, &tag)?;
    let mut ac = input.clone();
    ac.opaque(&tag);
    Ok(transcript_hashes::Entry {
        cipher_suite: g.wire,
        confirmation_key: hex(confirmation_key),
        authenticated_content: hex(ac.into_bytes()),
        interim_transcript_hash_before: hex(interim_before),
        confirmed_transcript_hash_after: hex(confirmed),
        interim_transcript_hash_after: hex(interim),
    })
}

fn message_protection(g: &mut Gen<'_>) -> Result<message_protection::Entry, String> {
    let cs = g.cs;
    let (group_id, tree_hash, cth) = (g.secret(), g.secret(), g.secret());
    let epoch: u64 = g.rng.gen_range(0..1 << 32);
    let (sig_priv, sig_pub) = g.signature_key();
    let (encryption_secret, sender_data_secret, membership_key) =
        (g.secret(), g.secret(), g.secret());
    let keys = Keys {
        cs,
        group_context: schedule::group_context(g.wire, &group_id, epoch, &tree_hash, &cth, &[]),
        group_id: group_id.clone(),
        epoch,
        membership_key: membership_key.clone(),
        sender_data_secret: sender_data_secret.clone(),
        tree: SecretTree::new(cs, &encryption_secret, 2),
    };
    // A Remove proposal of leaf 0; a commit with one proposal reference; application data.
    let proposal = vec![0, 3, 0, 0, 0, 0];
    let mut commit = Writer::new();
    let reference = g.secret();
    let mut refs = Writer::new();
    refs.u8(2).opaque(&reference);
    commit.opaque(&refs.buf).u8(0);
    let commit = commit.into_bytes();
    let application = g.bytes(42);
    let private = |g: &mut Gen<'_>, ct: u8, content: &[u8]| {
        let mut guard = [0u8; 4];
        g.rng.fill_bytes(&mut guard);
        keys.protect_private(1, 0, guard, ct, content, &sig_priv, 0)
    };
    let proposal_priv = private(g, 2, &proposal)?;
    let commit_priv = private(g, 3, &commit)?;
    let application_priv = private(g, 1, &application)?;
    Ok(message_protection::Entry {
        cipher_suite: g.wire,
        proposal_pub: hex(keys.protect_public(1, 2, &proposal, &sig_priv)?),
        commit_pub: hex(keys.protect_public(1, 3, &commit, &sig_priv)?),
        proposal_priv: hex(proposal_priv),
        commit_priv: hex(commit_priv),
        application_priv: hex(application_priv),
        group_id: hex(group_id),
        epoch,
        tree_hash: hex(tree_hash),
        confirmed_transcript_hash: hex(cth),
        signature_priv: hex(sig_priv),
        signature_pub: hex(sig_pub),
        encryption_secret: hex(encryption_secret),
        sender_data_secret: hex(sender_data_secret),
        membership_key: hex(membership_key),
        proposal: hex(proposal),
        commit: hex(commit),
        application: hex(application),
    })
}

/// A signed KeyPackage (as MLSMessage) for `wire`, and its raw KeyPackage bytes.
fn key_package(
    g: &mut Gen<'_>,
    init_pub: &[u8],
    enc_pub: &[u8],
    sig: &(Vec<u8>, Vec<u8>),
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let cs = g.cs;
    let leaf = LeafNode::build_signed(
        cs,
        &LeafSpec {
            cipher_suite: g.wire,
            encryption_key: enc_pub,
            signature_key: &sig.1,
            identity: b"p2mls generated member",
            source: LeafSource::KeyPackage {
                not_before: 0,
                not_after: u64::MAX,
            },
        },
        &sig.0,
        &[],
        0,
    )?;
    let mut tbs = Writer::new();
    tbs.u16(1)
        .u16(g.wire)
        .opaque(init_pub)
        .raw(&leaf.raw)
        .opaque(&[]);
    let kp_sig = cs.sign_with_label(&sig.0, b"KeyPackageTBS", &tbs.buf)?;
    tbs.opaque(&kp_sig);
    let raw = tbs.into_bytes();
    let mut msg = Writer::new();
    msg.u16(1).u16(crate::framing::WIRE_KEY_PACKAGE).raw(&raw);
    Ok((msg.into_bytes(), raw))
}

fn welcome(g: &mut Gen<'_>) -> Result<welcome::Entry, String> {
    let cs = g.cs;
    let (init_priv, init_pub) = g.hpke_key()?;
    let (_, enc_pub) = g.hpke_key()?;
    let member_sig = g.signature_key();
    let (kp_msg, kp_raw) = key_package(g, &init_pub, &enc_pub, &member_sig)?;
    let kp_ref = cs.ref_hash(b"MLS 1.0 KeyPackage Reference", &kp_raw)?;
    let (signer_priv, signer_pub) = g.signature_key();
    let joiner_secret = g.secret();
    let group_id = g.secret();
    let gc = schedule::group_context(g.wire, &group_id, 1, &g.secret(), &g.secret(), &[]);
    let cth = {
        let mut r = crate::codec::Reader::new(&gc);
        crate::framing::GroupContext::parse(&mut r)
            .map_err(|e| e.to_string())?
            .confirmed_transcript_hash
    };
    let epoch = schedule::epoch_from_joiner(cs, &joiner_secret, None, &gc)?;
    let tag = cs.mac(&epoch.confirmation_key, &cth)?;
    let mut gi = Writer::new();
    gi.raw(&gc).opaque(&[]).opaque(&tag).u32(0);
    let gi_sig = cs.sign_with_label(&signer_priv, b"GroupInfoTBS", &gi.buf)?;
    gi.opaque(&gi_sig);
    let (key, nonce) = schedule::welcome_key_nonce(cs, &epoch.welcome_secret)?;
    let encrypted_group_info = cs.aead_seal(&key, &nonce, &[], &gi.buf)?;
    let group_secrets = crate::framing::GroupSecrets {
        joiner_secret,
        path_secret: None,
        psks: Vec::new(),
    };
    let (kem, ct) = g.encrypt_with_label(
        &init_pub,
        b"Welcome",
        &encrypted_group_info,
        &group_secrets.encode(),
    )?;
    let mut secrets = Writer::new();
    secrets.opaque(&kp_ref).opaque(&kem).opaque(&ct);
    let mut w = Writer::new();
    w.u16(1)
        .u16(crate::framing::WIRE_WELCOME)
        .u16(g.wire)
        .opaque(&secrets.buf)
        .opaque(&encrypted_group_info);
    Ok(welcome::Entry {
        cipher_suite: g.wire,
        init_priv: hex(init_priv),
        signer_pub: hex(signer_pub),
        key_package: hex(kp_msg),
        welcome: hex(w.into_bytes()),
    })
}
