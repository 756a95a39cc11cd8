//! A second verification engine: openmls's crypto interface served by mls-rs's RustCrypto
//! provider (mls-rs-crypto-rustcrypto 0.23), so that the verifiers' primitives (hash, HMAC,
//! HKDF, AEAD, signatures, HPKE, DeriveKeyPair) come from another implementation than
//! openmls_rust_crypto and libcrux, and so that suite 0x0007 (P-384, AES-256-GCM, SHA-384),
//! which neither openmls provider offers, is verified at all.
//!
//! mls-rs-crypto-rustcrypto has SHA-512, HKDF-SHA-512 and every AEAD, but no P-521, X448 or
//! Ed448: the engine adds them from RustCrypto's crates, as DH under mls-rs's own DHKEM
//! (mls-rs-crypto-hpke; P-521: KEM id 0x0012, DeriveKeyPair with the 0x01 bitmask; X448: KEM id
//! 0x0021) and as signatures (ECDSA-SHA-512 in DER like the other ECDSA suites; pure Ed448 with an
//! empty context), so every suite of RFC 9420 (0x0001-0x0007) runs on it.
//!
//! Each call is routed to the mls-rs cipher suite whose algorithms it names: SHA-256, AES-128-GCM
//! and Ed25519 to 0x0001, P-256 to 0x0002, ChaCha20-Poly1305 to 0x0003, SHA-384, AES-256-GCM and
//! P-384 to 0x0007. Ed25519 private keys are 32-byte seeds in openmls and the vectors, 64-byte
//! key pairs in mls-rs; the adapter converts.

use mls_rs_core::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, HpkeContextR, HpkeContextS, HpkePublicKey,
    HpkeSecretKey, SignaturePublicKey, SignatureSecretKey,
};
use mls_rs_crypto_hpke::dhkem::DhKem;
use mls_rs_crypto_hpke::hpke::Hpke;
use mls_rs_crypto_rustcrypto::aead::Aead;
use mls_rs_crypto_rustcrypto::ecdh::Ecdh;
use mls_rs_crypto_rustcrypto::kdf::Kdf;
use mls_rs_crypto_rustcrypto::mac::Hash;
use mls_rs_crypto_rustcrypto::RustCryptoProvider;
use mls_rs_crypto_traits::{DhType, KdfType, SamplingMethod};
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
const SUITES: [u16; 7] = [0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0007];

/// Suite 0x0005, MLS_256_DHKEMP521_AES256GCM_SHA512_P521.
const P521_SUITE: CipherSuite = CipherSuite::P521_AES256;

/// P-521 ECDH for mls-rs's DHKEM.
#[derive(Clone, Debug)]
pub struct P521Dh;

/// A P-521 key or point that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct P521Error(String);

impl mls_rs_core::error::IntoAnyError for P521Error {
    fn into_dyn_error(self) -> Result<Box<dyn std::error::Error + Send + Sync>, Self> {
        Ok(self.into())
    }
}

fn p521_secret(bytes: &[u8]) -> Result<p521::SecretKey, P521Error> {
    p521::SecretKey::from_slice(bytes).map_err(|_| P521Error("not a P-521 private key".into()))
}

fn p521_public(bytes: &[u8]) -> Result<p521::PublicKey, P521Error> {
    p521::PublicKey::from_sec1_bytes(bytes).map_err(|_| P521Error("not a P-521 point".into()))
}

/// A fresh P-521 private key (66 bytes, top byte masked as DeriveKeyPair does).
fn p521_random() -> p521::SecretKey {
    loop {
        let mut bytes = [0u8; 66];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        bytes[0] &= 0x01;
        if let Ok(sk) = p521::SecretKey::from_slice(&bytes) {
            return sk;
        }
    }
}

impl DhType for P521Dh {
    type Error = P521Error;

    fn dh(
        &self,
        secret_key: &HpkeSecretKey,
        public_key: &HpkePublicKey,
    ) -> Result<Vec<u8>, P521Error> {
        let sk = p521_secret(secret_key.as_ref())?;
        let pk = p521_public(public_key.as_ref())?;
        let shared = p521::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
        Ok(shared.raw_secret_bytes().to_vec())
    }

    fn generate(&self) -> Result<(HpkeSecretKey, HpkePublicKey), P521Error> {
        let sk = p521_random();
        Ok((
            sk.to_bytes().to_vec().into(),
            sk.public_key().to_sec1_bytes().to_vec().into(),
        ))
    }

    fn to_public(&self, secret_key: &HpkeSecretKey) -> Result<HpkePublicKey, P521Error> {
        let sk = p521_secret(secret_key.as_ref())?;
        Ok(sk.public_key().to_sec1_bytes().to_vec().into())
    }

    fn bitmask_for_rejection_sampling(&self) -> SamplingMethod {
        SamplingMethod::HpkeWithBitmask(0x01)
    }

    fn secret_key_size(&self) -> usize {
        66
    }

    fn public_key_size(&self) -> usize {
        133
    }

    fn public_key_validate(&self, key: &HpkePublicKey) -> Result<(), P521Error> {
        p521_public(key.as_ref()).map(|_| ())
    }
}

/// X448 for mls-rs's DHKEM (suites 0x0004 and 0x0006).
#[derive(Clone, Debug)]
pub struct X448Dh;

fn x448_secret(bytes: &[u8]) -> Result<[u8; 56], P521Error> {
    bytes
        .try_into()
        .map_err(|_| P521Error("an X448 private key is 56 bytes".into()))
}

impl DhType for X448Dh {
    type Error = P521Error;

    fn dh(
        &self,
        secret_key: &HpkeSecretKey,
        public_key: &HpkePublicKey,
    ) -> Result<Vec<u8>, P521Error> {
        let sk = x448_secret(secret_key.as_ref())?;
        let pk: [u8; 56] = public_key
            .as_ref()
            .try_into()
            .map_err(|_| P521Error("an X448 public key is 56 bytes".into()))?;
        // RFC 9180 §7.1.4: an all-zero shared secret is refused.
        x448::x448(sk, pk)
            .map(|shared| shared.to_vec())
            .ok_or_else(|| P521Error("X448 gave the all-zero value".into()))
    }

    fn generate(&self) -> Result<(HpkeSecretKey, HpkePublicKey), P521Error> {
        let mut bytes = [0u8; 56];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let sk = HpkeSecretKey::from(bytes.to_vec());
        let pk = self.to_public(&sk)?;
        Ok((sk, pk))
    }

    fn to_public(&self, secret_key: &HpkeSecretKey) -> Result<HpkePublicKey, P521Error> {
        let sk = x448_secret(secret_key.as_ref())?;
        x448::x448(sk, x448::X448_BASEPOINT_BYTES)
            .map(|pk| pk.to_vec().into())
            .ok_or_else(|| P521Error("not an X448 private key".into()))
    }

    fn bitmask_for_rejection_sampling(&self) -> SamplingMethod {
        SamplingMethod::HpkeWithoutBitmask
    }

    fn secret_key_size(&self) -> usize {
        56
    }

    fn public_key_size(&self) -> usize {
        56
    }

    fn public_key_validate(&self, key: &HpkePublicKey) -> Result<(), P521Error> {
        x448::PublicKey::from_bytes(key.as_ref())
            .map(|_| ())
            .ok_or_else(|| P521Error("not an X448 public key".into()))
    }
}

/// HPKE of a suite mls-rs-crypto-rustcrypto lacks: its DH from RustCrypto, KEM, KDF, AEAD and
/// key schedule from mls-rs.
enum Extra {
    P521(Hpke<DhKem<P521Dh, Kdf>, Kdf, Aead>),
    X448(Hpke<DhKem<X448Dh, Kdf>, Kdf, Aead>),
}

/// The HPKE of `wire` when the engine brings it itself.
fn extra(wire: u16) -> Result<Option<Extra>, CryptoError> {
    let parts = |suite: CipherSuite| -> Result<(Kdf, Aead), CryptoError> {
        Ok((
            Kdf::new(suite).ok_or(CryptoError::UnsupportedKdf)?,
            Aead::new(suite).ok_or(CryptoError::UnsupportedAeadAlgorithm)?,
        ))
    };
    Ok(match wire {
        0x0005 => {
            let (kdf, aead) = parts(P521_SUITE)?;
            Some(Extra::P521(Hpke::new(
                DhKem::new(P521Dh, kdf, 0x0012, 64),
                kdf,
                Some(aead),
            )))
        }
        0x0004 | 0x0006 => {
            let (kdf, aead) = parts(CipherSuite::new(wire))?;
            Some(Extra::X448(Hpke::new(
                DhKem::new(X448Dh, kdf, 0x0021, 64),
                kdf,
                Some(aead),
            )))
        }
        _ => None,
    })
}

/// Runs the same code on either HPKE.
macro_rules! with_hpke {
    ($extra:expr, |$h:ident| $body:expr) => {
        match $extra {
            Extra::P521($h) => $body,
            Extra::X448($h) => $body,
        }
    };
}

impl Extra {
    fn to_public(&self, sk: &HpkeSecretKey) -> Result<HpkePublicKey, CryptoError> {
        match self {
            Extra::P521(_) => P521Dh.to_public(sk),
            Extra::X448(_) => X448Dh.to_public(sk),
        }
        .map_err(failed(CryptoError::HpkeDecryptionError))
    }

    fn seal(
        &self,
        pk: &HpkePublicKey,
        info: &[u8],
        aad: &[u8],
        pt: &[u8],
    ) -> Result<mls_rs_core::crypto::HpkeCiphertext, CryptoError> {
        with_hpke!(self, |h| h
            .seal(pk, info, None, Some(aad), pt)
            .map_err(failed(CryptoError::CryptoLibraryError)))
    }

    fn open(
        &self,
        ciphertext: &mls_rs_core::crypto::HpkeCiphertext,
        sk: &HpkeSecretKey,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let pk = self.to_public(sk)?;
        with_hpke!(self, |h| h
            .open(ciphertext, sk, &pk, info, None, Some(aad))
            .map(|pt| pt.to_vec())
            .map_err(failed(CryptoError::HpkeDecryptionError)))
    }

    fn export_sender(
        &self,
        pk: &HpkePublicKey,
        info: &[u8],
        context: &[u8],
        len: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        with_hpke!(self, |h| {
            let (enc, ctx) = h
                .setup_sender(pk, info, None)
                .map_err(failed(CryptoError::CryptoLibraryError))?;
            let secret = ctx
                .export(context, len)
                .map_err(failed(CryptoError::CryptoLibraryError))?;
            Ok((enc, secret.to_vec()))
        })
    }

    fn export_receiver(
        &self,
        enc: &[u8],
        sk: &HpkeSecretKey,
        info: &[u8],
        context: &[u8],
        len: usize,
    ) -> Result<Vec<u8>, CryptoError> {
        let pk = self.to_public(sk)?;
        with_hpke!(self, |h| h
            .setup_receiver(enc, sk, &pk, info, None)
            .map_err(failed(CryptoError::HpkeDecryptionError))?
            .export(context, len)
            .map(|s| s.to_vec())
            .map_err(failed(CryptoError::CryptoLibraryError)))
    }

    fn derive(&self, ikm: &[u8]) -> Result<(HpkeSecretKey, HpkePublicKey), CryptoError> {
        with_hpke!(self, |h| h
            .derive(ikm)
            .map_err(failed(CryptoError::CryptoLibraryError)))
    }
}

/// An Ed448 signing key from its 57-byte secret.
fn ed448_key(secret: &[u8]) -> Result<ed448_goldilocks::SigningKey, CryptoError> {
    ed448_goldilocks::SigningKey::try_from(secret).map_err(failed(CryptoError::CryptoLibraryError))
}

fn sha512_kdf() -> Result<Kdf, CryptoError> {
    Kdf::new(P521_SUITE).ok_or(CryptoError::UnsupportedKdf)
}

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
        (HpkeKemType::DhKemP521, HpkeAeadType::AesGcm256) => Ok(0x0005),
        (HpkeKemType::DhKem448, HpkeAeadType::AesGcm256) => Ok(0x0004),
        (HpkeKemType::DhKem448, HpkeAeadType::ChaCha20Poly1305) => Ok(0x0006),
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
        if hash_type == HashType::Sha2_512 {
            let prk = sha512_kdf()?
                .extract(salt, ikm)
                .map_err(failed(CryptoError::CryptoLibraryError))?;
            return Ok(prk.into());
        }
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
        if hash_type == HashType::Sha2_512 {
            let mac = Hash::new(P521_SUITE)
                .and_then(|h| h.mac(key, message))
                .map_err(failed(CryptoError::CryptoLibraryError))?;
            return Ok(mac.into());
        }
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
        if hash_type == HashType::Sha2_512 {
            let okm = sha512_kdf()?
                .expand(prk, info, okm_len)
                .map_err(failed(CryptoError::HkdfOutputLengthInvalid))?;
            return Ok(okm.into());
        }
        let okm = by_hash(hash_type)?
            .kdf_expand(prk, info, okm_len)
            .map_err(failed(CryptoError::HkdfOutputLengthInvalid))?;
        Ok(okm.to_vec().into())
    }

    fn hash(&self, hash_type: HashType, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if hash_type == HashType::Sha2_512 {
            return Hash::new(P521_SUITE)
                .map(|h| h.hash(data))
                .map_err(failed(CryptoError::CryptoLibraryError));
        }
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
        if alg == SignatureScheme::ED448 {
            let mut seed = [0u8; 57];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            let key = ed448_key(&seed)?;
            return Ok((seed.to_vec(), key.verifying_key().to_bytes().to_vec()));
        }
        if alg == SignatureScheme::ECDSA_SECP521R1_SHA512 {
            let sk = p521_random();
            return Ok((
                sk.to_bytes().to_vec(),
                sk.public_key().to_sec1_bytes().to_vec(),
            ));
        }
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
        if alg == SignatureScheme::ED448 {
            let key: [u8; 57] = pk
                .try_into()
                .map_err(failed(CryptoError::InvalidPublicKey))?;
            let key = ed448_goldilocks::VerifyingKey::from_bytes(&key)
                .map_err(failed(CryptoError::InvalidPublicKey))?;
            let signature = ed448_goldilocks::Signature::try_from(signature)
                .map_err(failed(CryptoError::InvalidSignature))?;
            return key
                .verify_raw(&signature, data)
                .map_err(failed(CryptoError::InvalidSignature));
        }
        if alg == SignatureScheme::ECDSA_SECP521R1_SHA512 {
            use p521::ecdsa::signature::Verifier as _;
            let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(pk)
                .map_err(failed(CryptoError::InvalidPublicKey))?;
            let signature = p521::ecdsa::Signature::from_der(signature)
                .map_err(failed(CryptoError::InvalidSignature))?;
            return key
                .verify(data, &signature)
                .map_err(failed(CryptoError::InvalidSignature));
        }
        by_signature(alg)?
            .verify(&SignaturePublicKey::new(pk.to_vec()), signature, data)
            .map_err(failed(CryptoError::InvalidSignature))
    }

    fn sign(&self, alg: SignatureScheme, data: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if alg == SignatureScheme::ED448 {
            return Ok(ed448_key(key)?.sign_raw(data).to_bytes().to_vec());
        }
        if alg == SignatureScheme::ECDSA_SECP521R1_SHA512 {
            use p521::ecdsa::signature::Signer as _;
            let key = p521::ecdsa::SigningKey::from_slice(key)
                .map_err(failed(CryptoError::CryptoLibraryError))?;
            let signature: p521::ecdsa::Signature = key
                .try_sign(data)
                .map_err(failed(CryptoError::CryptoLibraryError))?;
            return Ok(signature.to_der().as_bytes().to_vec());
        }
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
        let pk = HpkePublicKey::from(pk_r.to_vec());
        let wire = hpke_wire(config)?;
        let sealed = match extra(wire)? {
            Some(hpke) => hpke.seal(&pk, info, aad, ptxt)?,
            None => suite(wire)?
                .hpke_seal(&pk, info, Some(aad), ptxt)
                .map_err(failed(CryptoError::CryptoLibraryError))?,
        };
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
        let sk = HpkeSecretKey::from(sk_r.to_vec());
        match extra(wire)? {
            Some(hpke) => hpke.open(&ciphertext, &sk, info, aad),
            None => suite(wire)?
                .hpke_open(&ciphertext, &sk, &hpke_public(wire, sk_r)?, info, Some(aad))
                .map(|pt| pt.to_vec())
                .map_err(failed(CryptoError::HpkeDecryptionError)),
        }
    }

    fn hpke_setup_sender_and_export(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<(KemOutput, ExporterSecret), CryptoError> {
        let pk = HpkePublicKey::from(pk_r.to_vec());
        let wire = hpke_wire(config)?;
        let (enc, secret) = match extra(wire)? {
            Some(hpke) => hpke.export_sender(&pk, info, exporter_context, exporter_length)?,
            None => {
                let (enc, context) = suite(wire)?
                    .hpke_setup_s(&pk, info)
                    .map_err(failed(CryptoError::CryptoLibraryError))?;
                let secret = context
                    .export(exporter_context, exporter_length)
                    .map_err(failed(CryptoError::CryptoLibraryError))?;
                (enc, secret.to_vec())
            }
        };
        Ok((enc, secret.into()))
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
        let sk = HpkeSecretKey::from(sk_r.to_vec());
        let secret = match extra(wire)? {
            Some(hpke) => {
                hpke.export_receiver(enc, &sk, info, exporter_context, exporter_length)?
            }
            None => suite(wire)?
                .hpke_setup_r(enc, &sk, &hpke_public(wire, sk_r)?, info)
                .map_err(failed(CryptoError::HpkeDecryptionError))?
                .export(exporter_context, exporter_length)
                .map_err(failed(CryptoError::CryptoLibraryError))?
                .to_vec(),
        };
        Ok(secret.into())
    }

    fn derive_hpke_keypair(
        &self,
        config: HpkeConfig,
        ikm: &[u8],
    ) -> Result<HpkeKeyPair, CryptoError> {
        let wire = hpke_wire(config)?;
        let (sk, pk) = match extra(wire)? {
            Some(hpke) => hpke.derive(ikm)?,
            None => suite(wire)?
                .kem_derive(ikm)
                .map_err(failed(CryptoError::CryptoLibraryError))?,
        };
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

    /// P-521, X448 and Ed448 (no openmls provider has them; the official 0x0004-0x0006 vectors
    /// are the cross-check): signatures and HPKE round-trip and refuse a changed input.
    #[test]
    fn the_added_curves_round_trip_and_refuse_changes() {
        let ours = MlsRsCrypto;
        for (alg, sizes) in [
            (SignatureScheme::ECDSA_SECP521R1_SHA512, (66, 133)),
            (SignatureScheme::ED448, (57, 57)),
        ] {
            let (sk, pk) = ours.signature_key_gen(alg).unwrap();
            assert_eq!((sk.len(), pk.len()), sizes);
            let sig = ours.sign(alg, b"data", &sk).unwrap();
            ours.verify_signature(alg, b"data", &pk, &sig).unwrap();
            assert!(ours.verify_signature(alg, b"dato", &pk, &sig).is_err());
        }
        for (kem, aead) in [
            (HpkeKemType::DhKemP521, HpkeAeadType::AesGcm256),
            (HpkeKemType::DhKem448, HpkeAeadType::AesGcm256),
            (HpkeKemType::DhKem448, HpkeAeadType::ChaCha20Poly1305),
        ] {
            let config = || HpkeConfig(kem, openmls_traits::types::HpkeKdfType::HkdfSha512, aead);
            hpke_round_trip(&ours, config);
        }
    }

    fn hpke_round_trip(ours: &MlsRsCrypto, config: impl Fn() -> HpkeConfig) {
        let pair = ours.derive_hpke_keypair(config(), &[5u8; 64]).unwrap();
        let again = ours.derive_hpke_keypair(config(), &[5u8; 64]).unwrap();
        assert_eq!(pair.public, again.public);
        let sealed = ours
            .hpke_seal(config(), &pair.public, b"i", b"a", b"pt")
            .unwrap();
        let opened = ours.hpke_open(config(), &sealed, &pair.private, b"i", b"a");
        assert_eq!(opened.unwrap(), b"pt");
        assert!(ours
            .hpke_open(config(), &sealed, &pair.private, b"j", b"a")
            .is_err());
    }
}
