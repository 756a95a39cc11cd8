//! carol's crypto in mls-rs: mls-rs-crypto-rustcrypto for its own suites, and 0xF110 (X-Wing +
//! AES-128-GCM + SHA-256 + Ed25519, PROFILE.suite-registry) on the registry's wire code point.
//!
//! mls-rs-crypto-rustcrypto has no X-Wing suite, but its cipher suite type is generic over the
//! HPKE KEM: the 0xF110 suite is its 0x0001 machinery (hash, HMAC, HKDF, AEAD, Ed25519, and
//! mls-rs's own RFC 9180 key schedule) with the KEM swapped for X-Wing on the RustCrypto `x-wing`
//! crate. Two things differ from that suite and are done here: `cipher_suite()` answers the
//! hybrid wire code point, and DeriveKeyPair is X-Wing's (`seed = SHAKE256(ikm, 32)`, as
//! draft-connolly-cfrg-xwing-kem-06 and hpke-rs do it), not DHKEM's.

use mls_rs::error::{AnyError, IntoAnyError};
use mls_rs_core::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, HpkeCiphertext, HpkePsk, HpkePublicKey,
    HpkeSecretKey, SignaturePublicKey, SignatureSecretKey,
};
use mls_rs_crypto_hpke::context::{ContextR, ContextS};
use mls_rs_crypto_rustcrypto::aead::Aead;
use mls_rs_crypto_rustcrypto::kdf::Kdf;
use mls_rs_crypto_rustcrypto::{RustCryptoCipherSuite, RustCryptoProvider};
use mls_rs_crypto_traits::{KemResult, KemType};
use rand::RngCore as _;
use x_wing::KeyExport as _;
use zeroize::Zeroizing;

/// The HPKE KEM identifier of X-Wing (as hpke-rs and openmls use it).
pub const XWING_KEM_ID: u16 = 0x647A;

/// An error of the X-Wing KEM or of a wrapped provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CryptoError(pub String);

impl IntoAnyError for CryptoError {
    fn into_dyn_error(self) -> Result<Box<dyn std::error::Error + Send + Sync>, Self> {
        Ok(self.into())
    }
}

fn err(e: impl IntoAnyError) -> CryptoError {
    let any: AnyError = e.into_any_error();
    CryptoError(any.to_string())
}

/// X-Wing as an HPKE KEM for mls-rs-crypto-hpke.
#[derive(Clone, Debug)]
pub struct XWing;

impl XWing {
    fn keys(seed: &[u8]) -> Result<(HpkeSecretKey, HpkePublicKey), CryptoError> {
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| CryptoError("an X-Wing seed is 32 bytes".into()))?;
        let dk = x_wing::DecapsulationKey::from(seed);
        let ek = x_wing::Decapsulator::encapsulation_key(&dk).to_bytes();
        Ok((dk.as_bytes().to_vec().into(), ek.as_slice().to_vec().into()))
    }
}

impl KemType for XWing {
    type Error = CryptoError;

    fn kem_id(&self) -> u16 {
        XWING_KEM_ID
    }

    fn generate_deterministic(
        &self,
        seed: &[u8],
    ) -> Result<(HpkeSecretKey, HpkePublicKey), CryptoError> {
        Self::keys(seed)
    }

    fn generate(&self) -> Result<(HpkeSecretKey, HpkePublicKey), CryptoError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(seed.as_mut());
        Self::keys(seed.as_ref())
    }

    fn public_key_validate(&self, key: &HpkePublicKey) -> Result<(), CryptoError> {
        x_wing::EncapsulationKey::try_from(key.as_ref())
            .map(|_| ())
            .map_err(|_| CryptoError("not an X-Wing encapsulation key".into()))
    }

    fn encap(&self, remote_key: &HpkePublicKey) -> Result<KemResult, CryptoError> {
        let ek = x_wing::EncapsulationKey::try_from(remote_key.as_ref())
            .map_err(|_| CryptoError("not an X-Wing encapsulation key".into()))?;
        let mut randomness = Zeroizing::new([0u8; x_wing::ENCAPSULATION_RANDOMNESS_SIZE]);
        rand::rngs::OsRng.fill_bytes(randomness.as_mut());
        let (ct, ss) = ek.encapsulate_deterministic(&hybrid_array::Array::from(*randomness));
        Ok(KemResult::new(
            ss.as_slice().to_vec(),
            ct.as_slice().to_vec(),
        ))
    }

    fn decap(
        &self,
        enc: &[u8],
        secret_key: &HpkeSecretKey,
        _local_public: &HpkePublicKey,
    ) -> Result<Vec<u8>, CryptoError> {
        let seed: [u8; 32] = secret_key
            .as_ref()
            .try_into()
            .map_err(|_| CryptoError("an X-Wing private key is 32 bytes".into()))?;
        let dk = x_wing::DecapsulationKey::from(seed);
        let ct = x_wing::Ciphertext::try_from(enc)
            .map_err(|_| CryptoError("not an X-Wing ciphertext".into()))?;
        Ok(x_wing::Decapsulate::decapsulate(&dk, &ct)
            .as_slice()
            .to_vec())
    }

    fn seed_length_for_derive(&self) -> usize {
        32
    }
}

type Classic = <RustCryptoProvider as CryptoProvider>::CipherSuiteProvider;

/// A cipher suite of carol's provider.
#[derive(Clone)]
pub enum Suite {
    Classic(Classic),
    /// 0x0001's algorithms with X-Wing, answering `wire` as its code point.
    XWing(RustCryptoCipherSuite<XWing, Kdf, Aead>, CipherSuite),
}

/// mls-rs-crypto-rustcrypto plus X-Wing on the hybrid suite's wire code point.
#[derive(Clone, Debug)]
pub struct Crypto {
    pub hybrid_wire: Option<u16>,
}

impl CryptoProvider for Crypto {
    type CipherSuiteProvider = Suite;

    fn supported_cipher_suites(&self) -> Vec<CipherSuite> {
        let mut suites = RustCryptoProvider::default().supported_cipher_suites();
        suites.extend(self.hybrid_wire.map(CipherSuite::new));
        suites
    }

    fn cipher_suite_provider(&self, cipher_suite: CipherSuite) -> Option<Suite> {
        if self.hybrid_wire == Some(u16::from(cipher_suite)) {
            let base = CipherSuite::CURVE25519_AES128;
            let suite = RustCryptoCipherSuite::new(base, XWing, Kdf::new(base)?, Aead::new(base)?)?;
            return Some(Suite::XWing(suite, cipher_suite));
        }
        RustCryptoProvider::default()
            .cipher_suite_provider(cipher_suite)
            .map(Suite::Classic)
    }
}

/// Calls the same method on either suite, mapping its error.
macro_rules! both {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self {
            Suite::Classic(s) => s.$method($($arg),*).map_err(err),
            Suite::XWing(s, _) => s.$method($($arg),*).map_err(err),
        }
    };
}

impl CipherSuiteProvider for Suite {
    type Error = CryptoError;
    type HpkeContextR = ContextR<Kdf, Aead>;
    type HpkeContextS = ContextS<Kdf, Aead>;

    fn cipher_suite(&self) -> CipherSuite {
        match self {
            Suite::Classic(s) => s.cipher_suite(),
            Suite::XWing(_, wire) => *wire,
        }
    }

    fn hash(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        both!(self, hash(data))
    }

    fn mac(&self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        both!(self, mac(key, data))
    }

    fn aead_seal(
        &self,
        key: &[u8],
        data: &[u8],
        aad: Option<&[u8]>,
        nonce: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        both!(self, aead_seal(key, data, aad, nonce))
    }

    fn aead_open(
        &self,
        key: &[u8],
        cipher_text: &[u8],
        aad: Option<&[u8]>,
        nonce: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        both!(self, aead_open(key, cipher_text, aad, nonce))
    }

    fn aead_key_size(&self) -> usize {
        match self {
            Suite::Classic(s) => s.aead_key_size(),
            Suite::XWing(s, _) => s.aead_key_size(),
        }
    }

    fn aead_nonce_size(&self) -> usize {
        match self {
            Suite::Classic(s) => s.aead_nonce_size(),
            Suite::XWing(s, _) => s.aead_nonce_size(),
        }
    }

    fn kdf_expand(
        &self,
        prk: &[u8],
        info: &[u8],
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        both!(self, kdf_expand(prk, info, len))
    }

    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        both!(self, kdf_extract(salt, ikm))
    }

    fn kdf_extract_size(&self) -> usize {
        match self {
            Suite::Classic(s) => s.kdf_extract_size(),
            Suite::XWing(s, _) => s.kdf_extract_size(),
        }
    }

    fn hpke_seal(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        pt: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        both!(self, hpke_seal(remote_key, info, aad, pt))
    }

    fn hpke_seal_psk(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        pt: &[u8],
        psk: HpkePsk<'_>,
    ) -> Result<HpkeCiphertext, CryptoError> {
        both!(self, hpke_seal_psk(remote_key, info, aad, pt, psk))
    }

    fn hpke_open(
        &self,
        ciphertext: &HpkeCiphertext,
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        both!(
            self,
            hpke_open(ciphertext, local_secret, local_public, info, aad)
        )
    }

    fn hpke_open_psk(
        &self,
        ciphertext: &HpkeCiphertext,
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        psk: HpkePsk<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        both!(
            self,
            hpke_open_psk(ciphertext, local_secret, local_public, info, aad, psk)
        )
    }

    fn hpke_setup_r(
        &self,
        enc: &[u8],
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
    ) -> Result<Self::HpkeContextR, CryptoError> {
        both!(self, hpke_setup_r(enc, local_secret, local_public, info))
    }

    fn hpke_setup_s(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
    ) -> Result<(Vec<u8>, Self::HpkeContextS), CryptoError> {
        both!(self, hpke_setup_s(remote_key, info))
    }

    fn kem_derive(&self, ikm: &[u8]) -> Result<(HpkeSecretKey, HpkePublicKey), CryptoError> {
        match self {
            Suite::Classic(s) => s.kem_derive(ikm).map_err(err),
            // X-Wing's DeriveKeyPair, not DHKEM's labelled extract.
            Suite::XWing(..) => XWing::keys(&libcrux_sha3::shake256::<32>(ikm)),
        }
    }

    fn kem_generate(&self) -> Result<(HpkeSecretKey, HpkePublicKey), CryptoError> {
        both!(self, kem_generate())
    }

    fn kem_public_key_validate(&self, key: &HpkePublicKey) -> Result<(), CryptoError> {
        both!(self, kem_public_key_validate(key))
    }

    fn random_bytes(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        rand::rngs::OsRng.fill_bytes(out);
        Ok(())
    }

    fn sign(&self, secret_key: &SignatureSecretKey, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        both!(self, sign(secret_key, data))
    }

    fn verify(
        &self,
        public_key: &SignaturePublicKey,
        signature: &[u8],
        data: &[u8],
    ) -> Result<(), CryptoError> {
        both!(self, verify(public_key, signature, data))
    }

    fn signature_key_generate(
        &self,
    ) -> Result<(SignatureSecretKey, SignaturePublicKey), CryptoError> {
        both!(self, signature_key_generate())
    }

    fn signature_key_derive_public(
        &self,
        secret_key: &SignatureSecretKey,
    ) -> Result<SignaturePublicKey, CryptoError> {
        both!(self, signature_key_derive_public(secret_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmls_traits::crypto::OpenMlsCrypto;
    use openmls_traits::types::{
        HpkeAeadType, HpkeCiphertext as OpenCiphertext, HpkeConfig, HpkeKdfType, HpkeKemType,
    };

    const CONFIG: HpkeConfig = HpkeConfig(
        HpkeKemType::XWingKemDraft6,
        HpkeKdfType::HkdfSha256,
        HpkeAeadType::AesGcm128,
    );

    fn suite() -> Suite {
        Crypto {
            hybrid_wire: Some(0x004F),
        }
        .cipher_suite_provider(CipherSuite::new(0x004F))
        .unwrap()
    }

    /// DeriveKeyPair gives openmls's keys, and HPKE sealed here opens with both openmls
    /// providers (and the other way round): carol's X-Wing is openmls's X-Wing on the wire.
    #[test]
    fn xwing_agrees_with_both_openmls_providers() {
        let suite = suite();
        assert_eq!(u16::from(suite.cipher_suite()), 0x004F);
        let ikm = [9u8; 32];
        let (sk, pk) = suite.kem_derive(&ikm).unwrap();
        let rust = openmls_rust_crypto::RustCrypto::default();
        let libcrux = openmls_libcrux_crypto::CryptoProvider::new().unwrap();
        let theirs = rust.derive_hpke_keypair(CONFIG, &ikm).unwrap();
        let (ours_sk, ours_pk): (&[u8], &[u8]) = (sk.as_ref(), pk.as_ref());
        let theirs_sk: &[u8] = &theirs.private;
        assert_eq!(ours_pk, theirs.public.as_slice());
        assert_eq!(ours_sk, theirs_sk);

        let sealed = suite
            .hpke_seal(&pk, b"info", Some(b"aad"), b"to openmls")
            .unwrap();
        let input = OpenCiphertext {
            kem_output: sealed.kem_output.clone().into(),
            ciphertext: sealed.ciphertext.clone().into(),
        };
        for opened in [
            rust.hpke_open(CONFIG, &input, sk.as_ref(), b"info", b"aad"),
            libcrux.hpke_open(CONFIG, &input, sk.as_ref(), b"info", b"aad"),
        ] {
            assert_eq!(opened.unwrap(), b"to openmls");
        }

        let back = libcrux
            .hpke_seal(CONFIG, pk.as_ref(), b"info", b"aad", b"to mls-rs")
            .unwrap();
        let back = HpkeCiphertext {
            kem_output: back.kem_output.as_slice().to_vec(),
            ciphertext: back.ciphertext.as_slice().to_vec(),
        };
        let opened = suite
            .hpke_open(&back, &sk, &pk, b"info", Some(b"aad"))
            .unwrap();
        assert_eq!(opened.as_slice(), b"to mls-rs");
    }
}
