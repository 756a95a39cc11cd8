//! RFC 9420 §5 cryptographic helpers on top of the [`OpenMlsCrypto`] primitives of a provider.
//!
//! openmls keeps its own versions of these private, so the verifiers compute them here from the
//! provider's HKDF, hash, HMAC, AEAD, signature and HPKE functions:
//!
//! ```text
//! ExpandWithLabel(Secret, Label, Context, Length) = KDF.Expand(Secret, KDFLabel, Length)
//!   KDFLabel = struct { uint16 length; opaque label<V> = "MLS 1.0 " + Label; opaque context<V>; }
//! DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", KDF.Nh)
//! DeriveTreeSecret(Secret, Label, Generation, Length)
//!   = ExpandWithLabel(Secret, Label, uint32 Generation, Length)
//! RefHash(Label, Value) = Hash(struct { opaque label<V>; opaque value<V>; })
//! SignWithLabel(Key, Label, Content)
//!   = Signature.Sign(Key, struct { opaque label<V> = "MLS 1.0 " + Label; opaque content<V>; })
//! EncryptWithLabel(PublicKey, Label, Context, Plaintext)
//!   = SealBase(PublicKey, struct { opaque label<V> = "MLS 1.0 " + Label; opaque context<V>; },
//!              "", Plaintext)
//! ```

use openmls::prelude::{Ciphersuite, HpkeCiphertext, OpenMlsCrypto};
use openmls_traits::types::{HpkeKemType, SignatureScheme};

use crate::codec::Writer;

/// A crypto error as text: which operation failed and why.
pub type CryptoResult<T> = Result<T, String>;

/// One cipher suite with the provider that computes it.
pub struct Cs<'a, C: OpenMlsCrypto> {
    pub suite: Ciphersuite,
    pub crypto: &'a C,
}

impl<C: OpenMlsCrypto> Clone for Cs<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C: OpenMlsCrypto> Copy for Cs<'_, C> {}

fn labeled(label: &[u8], context: &[u8]) -> Vec<u8> {
    let mut full = b"MLS 1.0 ".to_vec();
    full.extend_from_slice(label);
    let mut w = Writer::new();
    w.opaque(&full).opaque(context);
    w.into_bytes()
}

impl<'a, C: OpenMlsCrypto> Cs<'a, C> {
    pub fn new(suite: Ciphersuite, crypto: &'a C) -> Self {
        Self { suite, crypto }
    }

    /// KDF.Nh: the hash output length.
    pub fn nh(&self) -> usize {
        self.suite.hash_length()
    }

    pub fn hash(&self, data: &[u8]) -> CryptoResult<Vec<u8>> {
        self.crypto
            .hash(self.suite.hash_algorithm(), data)
            .map_err(|e| format!("Hash: {e:?}"))
    }

    pub fn extract(&self, salt: &[u8], ikm: &[u8]) -> CryptoResult<Vec<u8>> {
        self.crypto
            .hkdf_extract(self.suite.hash_algorithm(), salt, ikm)
            .map(|s| s.as_slice().to_vec())
            .map_err(|e| format!("KDF.Extract: {e:?}"))
    }

    pub fn expand(&self, prk: &[u8], info: &[u8], len: usize) -> CryptoResult<Vec<u8>> {
        self.crypto
            .hkdf_expand(self.suite.hash_algorithm(), prk, info, len)
            .map(|s| s.as_slice().to_vec())
            .map_err(|e| format!("KDF.Expand: {e:?}"))
    }

    pub fn mac(&self, key: &[u8], data: &[u8]) -> CryptoResult<Vec<u8>> {
        self.crypto
            .hmac(self.suite.hash_algorithm(), key, data)
            .map(|s| s.as_slice().to_vec())
            .map_err(|e| format!("MAC: {e:?}"))
    }

    pub fn expand_with_label(
        &self,
        secret: &[u8],
        label: &[u8],
        context: &[u8],
        len: u16,
    ) -> CryptoResult<Vec<u8>> {
        let mut info = len.to_be_bytes().to_vec();
        info.extend_from_slice(&labeled(label, context));
        self.expand(secret, &info, usize::from(len))
    }

    pub fn derive_secret(&self, secret: &[u8], label: &[u8]) -> CryptoResult<Vec<u8>> {
        self.expand_with_label(secret, label, &[], self.nh() as u16)
    }

    pub fn derive_tree_secret(
        &self,
        secret: &[u8],
        label: &[u8],
        generation: u32,
        len: u16,
    ) -> CryptoResult<Vec<u8>> {
        self.expand_with_label(secret, label, &generation.to_be_bytes(), len)
    }

    pub fn ref_hash(&self, label: &[u8], value: &[u8]) -> CryptoResult<Vec<u8>> {
        let mut w = Writer::new();
        w.opaque(label).opaque(value);
        self.hash(&w.buf)
    }

    pub fn sign_with_label(
        &self,
        key: &[u8],
        label: &[u8],
        content: &[u8],
    ) -> CryptoResult<Vec<u8>> {
        self.crypto
            .sign(
                self.suite.signature_algorithm(),
                &labeled(label, content),
                key,
            )
            .map_err(|e| format!("SignWithLabel: {e:?}"))
    }

    pub fn verify_with_label(
        &self,
        public: &[u8],
        label: &[u8],
        content: &[u8],
        signature: &[u8],
    ) -> CryptoResult<()> {
        self.crypto
            .verify_signature(
                self.suite.signature_algorithm(),
                &labeled(label, content),
                public,
                signature,
            )
            .map_err(|e| format!("VerifyWithLabel: {e:?}"))
    }

    pub fn encrypt_with_label(
        &self,
        public: &[u8],
        label: &[u8],
        context: &[u8],
        plaintext: &[u8],
    ) -> CryptoResult<(Vec<u8>, Vec<u8>)> {
        let ct = self
            .crypto
            .hpke_seal(
                self.suite.hpke_config(),
                public,
                &labeled(label, context),
                &[],
                plaintext,
            )
            .map_err(|e| format!("EncryptWithLabel: {e:?}"))?;
        Ok((
            ct.kem_output.as_slice().to_vec(),
            ct.ciphertext.as_slice().to_vec(),
        ))
    }

    pub fn decrypt_with_label(
        &self,
        private: &[u8],
        label: &[u8],
        context: &[u8],
        kem_output: &[u8],
        ciphertext: &[u8],
    ) -> CryptoResult<Vec<u8>> {
        let input = HpkeCiphertext {
            kem_output: kem_output.to_vec().into(),
            ciphertext: ciphertext.to_vec().into(),
        };
        self.crypto
            .hpke_open(
                self.suite.hpke_config(),
                &input,
                private,
                &labeled(label, context),
                &[],
            )
            .map_err(|e| format!("DecryptWithLabel: {e:?}"))
    }

    /// KEM.DeriveKeyPair(ikm): (private, public).
    pub fn derive_key_pair(&self, ikm: &[u8]) -> CryptoResult<(Vec<u8>, Vec<u8>)> {
        let kp = self
            .crypto
            .derive_hpke_keypair(self.suite.hpke_config(), ikm)
            .map_err(|e| format!("KEM.DeriveKeyPair: {e:?}"))?;
        Ok((kp.private.as_ref().to_vec(), kp.public))
    }

    pub fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> CryptoResult<Vec<u8>> {
        self.crypto
            .aead_encrypt(self.suite.aead_algorithm(), key, plaintext, nonce, aad)
            .map_err(|e| format!("AEAD.Seal: {e:?}"))
    }

    pub fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> CryptoResult<Vec<u8>> {
        self.crypto
            .aead_decrypt(self.suite.aead_algorithm(), key, ciphertext, nonce, aad)
            .map_err(|e| format!("AEAD.Open: {e:?}"))
    }

    pub fn aead_key_len(&self) -> u16 {
        self.suite.aead_key_length() as u16
    }

    pub fn aead_nonce_len(&self) -> u16 {
        self.suite.aead_nonce_length() as u16
    }

    pub fn signature_scheme(&self) -> SignatureScheme {
        self.suite.signature_algorithm()
    }

    pub fn kem(&self) -> HpkeKemType {
        self.suite.hpke_kem_algorithm()
    }
}
