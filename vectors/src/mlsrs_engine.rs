//! A second verification engine: openmls's crypto interface served by mls-rs's RustCrypto
//! provider (mls-rs-crypto-rustcrypto 0.23), so that the verifiers' primitives (hash, HMAC,
//! HKDF, AEAD, signatures, HPKE, DeriveKeyPair) come from another implementation than
//! openmls_rust_crypto and libcrux, and so that suite 0x0007 (P-384, AES-256-GCM, SHA-384),
//! which neither openmls provider offers, is verified at all.
//!
//! Each call is routed to the mls-rs cipher suite whose algorithms it names: SHA-256, AES-128-GCM
//! and Ed25519 to 0x0001, P-256 to 0x0002, ChaCha20-Poly1305 to 0x0003, SHA-384, AES-256-GCM and
//! P-384 to 0x0007. Ed25519 private keys are 32-byte seeds in openmls and the vectors, 64-byte
//! key pairs in mls-rs; the adapter converts.

use mls_rs_core::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, HpkeContextR, HpkeContextS, HpkePublicKey,
    HpkeSecretKey, SignaturePublicKey, SignatureSecretKey,
};
use mls_rs_crypto_rustcrypto::ecdh::Ecdh;
use mls_rs_crypto_rustcrypto::RustCryptoProvider;
use mls_rs_crypto_traits::DhType;
use openmls::prelude::tls_codec::SecretVLBytes;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::random::OpenMlsRand;
use openmls_traits::types::{
    AeadType, Ciphersuite, CryptoError, ExporterSecret, HashType, HpkeAeadType, HpkeCiphertext,
    HpkeConfig, HpkeKemType, HpkeKeyPair, KemOutput, SignatureScheme,
};
use openmls_traits::OpenMlsProvider;
use rand::RngCore as _;

use crate::Backend;

/// The wire code points the engine offers (those of mls-rs-crypto-rustcrypto).
const SUITES: [u16; 4] = [0x0001, 0x0002, 0x0003, 0x0007];

type Suite = <RustCryptoProvider as CryptoProvider>::CipherSuiteProvider;

/// openmls's crypto interface on mls-rs-crypto-rustcrypto.
#[derive(Default)]
pub struct MlsRsCrypto;

fn suite(wire: u16) -> Result<Suite, CryptoError> {
    RustCryptoProvider::default()
        .cipher_suite_provider(CipherSuite::new(wire))
        .ok_or(CryptoError::UnsupportedCiphersuite)
}

fn by_hash(hash: HashType) -> Result<Suite, CryptoError> {
    match hash {
        HashType::Sha2_256 => suite(0x0001),
        HashType::Sha2_384 => suite(0x0007),
        _ => Err(CryptoError::UnsupportedHashAlgorithm),
    }
}

fn by_aead(alg: AeadType) -> Result<Suite, CryptoError> {
    match alg {
        AeadType::Aes128Gcm => suite(0x0001),
        AeadType::Aes256Gcm => suite(0x0007),
        AeadType::ChaCha20Poly1305 => suite(0x0003),
    }
}

fn by_signature(alg: SignatureScheme) -> Result<Suite, CryptoError> {
    match alg {
        SignatureScheme::ED25519 => suite(0x0001),
        SignatureScheme::ECDSA_SECP256R1_SHA256 => suite(0x0002),
        SignatureScheme::ECDSA_SECP384R1_SHA384 => suite(0x0007),
        _ => Err(CryptoError::UnsupportedSignatureScheme),
    }
}

/// The wire code point whose HPKE is `config`.
fn hpke_wire(config: HpkeConfig) -> Result<u16, CryptoError> {
    match (config.0, config.2) {
        (HpkeKemType::DhKem25519, HpkeAeadType::AesGcm128) => Ok(0x0001),
        (HpkeKemType::DhKemP256, HpkeAeadType::AesGcm128) => Ok(0x0002),
        (HpkeKemType::DhKem25519, HpkeAeadType::ChaCha20Poly1305) => Ok(0x0003),
        (HpkeKemType::DhKemP384, HpkeAeadType::AesGcm256) => Ok(0x0007),
        _ => Err(CryptoError::SenderSetupError),
    }
}

fn failed<E: std::fmt::Debug>(error: CryptoError) -> impl Fn(E) -> CryptoError {
    move |_| error
}

/// mls-rs's form of a signature private key.
fn signature_secret(alg: SignatureScheme, key: &[u8]) -> Result<SignatureSecretKey, CryptoError> {
    if alg == SignatureScheme::ED25519 && key.len() == 32 {
        let seed: [u8; 32] = key.try_into().map_err(failed(CryptoError::InvalidLength))?;
        let keypair = ed25519_dalek::SigningKey::from_bytes(&seed).to_keypair_bytes();
        return Ok(SignatureSecretKey::new(keypair.to_vec()));
    }
    Ok(SignatureSecretKey::new(key.to_vec()))
}

/// The HPKE public key of a private key (mls-rs's HPKE open needs both).
fn hpke_public(wire: u16, sk: &[u8]) -> Result<HpkePublicKey, CryptoError> {
    let ecdh = Ecdh::new(CipherSuite::new(wire)).ok_or(CryptoError::SenderSetupError)?;
    ecdh.to_public(&HpkeSecretKey::from(sk.to_vec()))
        .map_err(failed(CryptoError::HpkeDecryptionError))
}

impl OpenMlsCrypto for MlsRsCrypto {
    fn supports(&self, ciphersuite: Ciphersuite) -> Result<(), CryptoError> {
        if SUITES.contains(&u16::from(ciphersuite)) {
            Ok(())
        } else {
            Err(CryptoError::UnsupportedCiphersuite)
        }
    }

    fn supported_ciphersuites(&self) -> Vec<Ciphersuite> {
        SUITES
            .iter()
            .filter_map(|s| Ciphersuite::try_from(*s).ok())
            .collect()
    }

    fn hkdf_extract(
        &self,
        hash_type: HashType,
        salt: &[u8],
        ikm: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        let prk = by_hash(hash_type)?
            .kdf_extract(salt, ikm)
            .map_err(failed(CryptoError::CryptoLibraryError))?;
        Ok(prk.to_vec().into())
    }

    fn hmac(
        &self,
        hash_type: HashType,
        key: &[u8],
        message: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        let mac = by_hash(hash_type)?
            .mac(key, message)
            .map_err(failed(CryptoError::CryptoLibraryError))?;
        Ok(mac.into())
    }

    fn hkdf_expand(
        &self,
        hash_type: HashType,
        prk: &[u8],
        info: &[u8],
        okm_len: usize,
    ) -> Result<SecretVLBytes, CryptoError> {
        let okm = by_hash(hash_type)?
            .kdf_expand(prk, info, okm_len)
            .map_err(failed(CryptoError::HkdfOutputLengthInvalid))?;
        Ok(okm.to_vec().into())
    }

    fn hash(&self, hash_type: HashType, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        by_hash(hash_type)?
            .hash(data)
            .map_err(failed(CryptoError::CryptoLibraryError))
    }

    fn aead_encrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        data: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        by_aead(alg)?
            .aead_seal(key, data, Some(aad), nonce)
            .map_err(failed(CryptoError::CryptoLibraryError))
    }

    fn aead_decrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        ct_tag: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        by_aead(alg)?
            .aead_open(key, ct_tag, Some(aad), nonce)
            .map(|pt| pt.to_vec())
            .map_err(failed(CryptoError::AeadDecryptionError))
    }

    fn signature_key_gen(&self, alg: SignatureScheme) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        let (sk, pk) = by_signature(alg)?
            .signature_key_generate()
            .map_err(failed(CryptoError::CryptoLibraryError))?;
        let sk = sk.as_bytes().to_vec();
        // openmls keeps Ed25519 private keys as the 32-byte seed.
        let sk = if alg == SignatureScheme::ED25519 {
            sk[..32].to_vec()
        } else {
            sk
        };
        Ok((sk, pk.as_bytes().to_vec()))
    }

    fn verify_signature(
        &self,
        alg: SignatureScheme,
        data: &[u8],
        pk: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        by_signature(alg)?
            .verify(&SignaturePublicKey::new(pk.to_vec()), signature, data)
            .map_err(failed(CryptoError::InvalidSignature))
    }

    fn sign(&self, alg: SignatureScheme, data: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        by_signature(alg)?
            .sign(&signature_secret(alg, key)?, data)
            .map_err(failed(CryptoError::CryptoLibraryError))
    }

    fn hpke_seal(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        aad: &[u8],
        ptxt: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        let sealed = suite(hpke_wire(config)?)?
            .hpke_seal(&HpkePublicKey::from(pk_r.to_vec()), info, Some(aad), ptxt)
            .map_err(failed(CryptoError::CryptoLibraryError))?;
        Ok(HpkeCiphertext {
            kem_output: sealed.kem_output.into(),
            ciphertext: sealed.ciphertext.into(),
        })
    }

    fn hpke_open(
        &self,
        config: HpkeConfig,
        input: &HpkeCiphertext,
        sk_r: &[u8],
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let wire = hpke_wire(config)?;
        let ciphertext = mls_rs_core::crypto::HpkeCiphertext {
            kem_output: input.kem_output.as_slice().to_vec(),
            ciphertext: input.ciphertext.as_slice().to_vec(),
        };
        suite(wire)?
            .hpke_open(
                &ciphertext,
                &HpkeSecretKey::from(sk_r.to_vec()),
                &hpke_public(wire, sk_r)?,
                info,
                Some(aad),
            )
            .map(|pt| pt.to_vec())
            .map_err(failed(CryptoError::HpkeDecryptionError))
    }

    fn hpke_setup_sender_and_export(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<(KemOutput, ExporterSecret), CryptoError> {
        let (enc, context) = suite(hpke_wire(config)?)?
            .hpke_setup_s(&HpkePublicKey::from(pk_r.to_vec()), info)
            .map_err(failed(CryptoError::CryptoLibraryError))?;
        let secret = context
            .export(exporter_context, exporter_length)
            .map_err(failed(CryptoError::CryptoLibraryError))?;
        Ok((enc, secret.to_vec().into()))
    }

    fn hpke_setup_receiver_and_export(
        &self,
        config: HpkeConfig,
        enc: &[u8],
        sk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<ExporterSecret, CryptoError> {
        let wire = hpke_wire(config)?;
        let context = suite(wire)?
            .hpke_setup_r(
                enc,
                &HpkeSecretKey::from(sk_r.to_vec()),
                &hpke_public(wire, sk_r)?,
                info,
            )
            .map_err(failed(CryptoError::HpkeDecryptionError))?;
        let secret = context
            .export(exporter_context, exporter_length)
            .map_err(failed(CryptoError::CryptoLibraryError))?;
        Ok(secret.to_vec().into())
    }

    fn derive_hpke_keypair(
        &self,
        config: HpkeConfig,
        ikm: &[u8],
    ) -> Result<HpkeKeyPair, CryptoError> {
        let (sk, pk) = suite(hpke_wire(config)?)?
            .kem_derive(ikm)
            .map_err(failed(CryptoError::CryptoLibraryError))?;
        Ok(HpkeKeyPair {
            private: sk.as_ref().to_vec().into(),
            public: pk.as_ref().to_vec(),
        })
    }
}

/// Randomness failed.
#[derive(Debug, thiserror::Error)]
#[error("randomness failed")]
pub struct RandError;

impl OpenMlsRand for MlsRsCrypto {
    type Error = RandError;

    fn random_array<const N: usize>(&self) -> Result<[u8; N], RandError> {
        let mut out = [0u8; N];
        rand::rngs::OsRng.fill_bytes(&mut out);
        Ok(out)
    }

    fn random_vec(&self, len: usize) -> Result<Vec<u8>, RandError> {
        let mut out = vec![0u8; len];
        rand::rngs::OsRng.fill_bytes(&mut out);
        Ok(out)
    }
}

/// The engine as an openmls provider (in-memory storage for the passive-client flows).
#[derive(Default)]
pub struct MlsRsEngine {
    crypto: MlsRsCrypto,
    storage: openmls_rust_crypto::MemoryStorage,
}

impl OpenMlsProvider for MlsRsEngine {
    type CryptoProvider = MlsRsCrypto;
    type RandProvider = MlsRsCrypto;
    type StorageProvider = openmls_rust_crypto::MemoryStorage;

    fn storage(&self) -> &Self::StorageProvider {
        &self.storage
    }

    fn crypto(&self) -> &MlsRsCrypto {
        &self.crypto
    }

    fn rand(&self) -> &MlsRsCrypto {
        &self.crypto
    }
}

impl Backend for MlsRsEngine {
    const NAME: &'static str = "mls-rs-crypto-rustcrypto";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine and openmls_rust_crypto agree on keys, signatures and HPKE in both
    /// directions, and a flipped bit fails.
    #[test]
    fn agrees_with_openmls_rust_crypto() {
        let ours = MlsRsCrypto;
        let theirs = openmls_rust_crypto::RustCrypto::default();
        for alg in [
            SignatureScheme::ED25519,
            SignatureScheme::ECDSA_SECP256R1_SHA256,
        ] {
            let (sk, pk) = theirs.signature_key_gen(alg).unwrap();
            let sig = ours.sign(alg, b"data", &sk).unwrap();
            theirs.verify_signature(alg, b"data", &pk, &sig).unwrap();
            let (sk, pk) = ours.signature_key_gen(alg).unwrap();
            let sig = theirs.sign(alg, b"data", &sk).unwrap();
            ours.verify_signature(alg, b"data", &pk, &sig).unwrap();
            assert!(ours.verify_signature(alg, b"dato", &pk, &sig).is_err());
        }
        for kem in [HpkeKemType::DhKem25519, HpkeKemType::DhKemP256] {
            let config = || {
                HpkeConfig(
                    kem,
                    openmls_traits::types::HpkeKdfType::HkdfSha256,
                    HpkeAeadType::AesGcm128,
                )
            };
            let ikm = [3u8; 32];
            let a = ours.derive_hpke_keypair(config(), &ikm).unwrap();
            let b = theirs.derive_hpke_keypair(config(), &ikm).unwrap();
            assert_eq!(a.public, b.public);
            let sealed = ours
                .hpke_seal(config(), &a.public, b"i", b"a", b"pt")
                .unwrap();
            let opened = theirs.hpke_open(config(), &sealed, &b.private, b"i", b"a");
            assert_eq!(opened.unwrap(), b"pt");
            let sealed = theirs
                .hpke_seal(config(), &b.public, b"i", b"a", b"pt")
                .unwrap();
            let opened = ours.hpke_open(config(), &sealed, &a.private, b"i", b"a");
            assert_eq!(opened.unwrap(), b"pt");
            assert!(ours
                .hpke_open(config(), &sealed, &a.private, b"i", b"b")
                .is_err());
        }
        assert_eq!(
            ours.hash(HashType::Sha2_384, b"abc").unwrap(),
            theirs.hash(HashType::Sha2_384, b"abc").unwrap()
        );
    }
}
