//! One provider type for two crypto back ends, so that actors in one group can run different
//! implementations (openmls_rust_crypto and openmls_libcrux_crypto) behind the same client code:
//! in the 0xF110 run two independent X-Wing implementations must agree.

use openmls::prelude::tls_codec::SecretVLBytes;
use openmls_libcrux_crypto::CryptoProvider as LibcruxCrypto;
use openmls_memory_storage::MemoryStorage;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::random::OpenMlsRand;
use openmls_traits::types::{
    AeadType, Ciphersuite, CryptoError, ExporterSecret, HashType, HpkeCiphertext, HpkeConfig,
    HpkeKeyPair, KemOutput, SignatureScheme,
};
use openmls_traits::OpenMlsProvider;
use serde::Serialize;

/// Which implementation a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    RustCrypto,
    Libcrux,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::RustCrypto => "openmls_rust_crypto",
            Backend::Libcrux => "openmls_libcrux_crypto",
        }
    }
}

/// The crypto of one back end.
pub enum Crypto {
    RustCrypto(Box<RustCrypto>),
    Libcrux(LibcruxCrypto),
}

/// A provider with either back end and in-memory storage.
pub struct Provider {
    crypto: Crypto,
    storage: MemoryStorage,
}

impl Provider {
    pub fn new(backend: Backend) -> Result<Self, CryptoError> {
        let crypto = match backend {
            Backend::RustCrypto => Crypto::RustCrypto(Box::default()),
            Backend::Libcrux => Crypto::Libcrux(LibcruxCrypto::new()?),
        };
        Ok(Self {
            crypto,
            storage: MemoryStorage::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.crypto {
            Crypto::RustCrypto(_) => Backend::RustCrypto,
            Crypto::Libcrux(_) => Backend::Libcrux,
        }
    }
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = Crypto;
    type RandProvider = Crypto;
    type StorageProvider = MemoryStorage;

    fn storage(&self) -> &MemoryStorage {
        &self.storage
    }

    fn crypto(&self) -> &Crypto {
        &self.crypto
    }

    fn rand(&self) -> &Crypto {
        &self.crypto
    }
}

/// Randomness failed in the back end.
#[derive(Debug, thiserror::Error)]
#[error("randomness failed: {0}")]
pub struct RandFailure(String);

impl OpenMlsRand for Crypto {
    type Error = RandFailure;

    fn random_array<const N: usize>(&self) -> Result<[u8; N], RandFailure> {
        match self {
            Crypto::RustCrypto(c) => c.random_array().map_err(|e| RandFailure(format!("{e:?}"))),
            Crypto::Libcrux(c) => c.random_array().map_err(|e| RandFailure(format!("{e:?}"))),
        }
    }

    fn random_vec(&self, len: usize) -> Result<Vec<u8>, RandFailure> {
        match self {
            Crypto::RustCrypto(c) => c.random_vec(len).map_err(|e| RandFailure(format!("{e:?}"))),
            Crypto::Libcrux(c) => c.random_vec(len).map_err(|e| RandFailure(format!("{e:?}"))),
        }
    }
}

/// Calls the same method on whichever back end is inside.
macro_rules! delegate {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self {
            Crypto::RustCrypto(c) => c.$method($($arg),*),
            Crypto::Libcrux(c) => c.$method($($arg),*),
        }
    };
}

impl OpenMlsCrypto for Crypto {
    fn supports(&self, ciphersuite: Ciphersuite) -> Result<(), CryptoError> {
        delegate!(self, supports(ciphersuite))
    }

    fn supported_ciphersuites(&self) -> Vec<Ciphersuite> {
        delegate!(self, supported_ciphersuites())
    }

    fn hkdf_extract(
        &self,
        hash_type: HashType,
        salt: &[u8],
        ikm: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        delegate!(self, hkdf_extract(hash_type, salt, ikm))
    }

    fn hmac(
        &self,
        hash_type: HashType,
        key: &[u8],
        message: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        delegate!(self, hmac(hash_type, key, message))
    }

    fn hkdf_expand(
        &self,
        hash_type: HashType,
        prk: &[u8],
        info: &[u8],
        okm_len: usize,
    ) -> Result<SecretVLBytes, CryptoError> {
        delegate!(self, hkdf_expand(hash_type, prk, info, okm_len))
    }

    fn hash(&self, hash_type: HashType, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        delegate!(self, hash(hash_type, data))
    }

    fn aead_encrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        data: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        delegate!(self, aead_encrypt(alg, key, data, nonce, aad))
    }

    fn aead_decrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        ct_tag: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        delegate!(self, aead_decrypt(alg, key, ct_tag, nonce, aad))
    }

    fn signature_key_gen(&self, alg: SignatureScheme) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        delegate!(self, signature_key_gen(alg))
    }

    fn verify_signature(
        &self,
        alg: SignatureScheme,
        data: &[u8],
        pk: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        delegate!(self, verify_signature(alg, data, pk, signature))
    }

    fn sign(&self, alg: SignatureScheme, data: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        delegate!(self, sign(alg, data, key))
    }

    fn hpke_seal(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        aad: &[u8],
        ptxt: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        delegate!(self, hpke_seal(config, pk_r, info, aad, ptxt))
    }

    fn hpke_open(
        &self,
        config: HpkeConfig,
        input: &HpkeCiphertext,
        sk_r: &[u8],
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        delegate!(self, hpke_open(config, input, sk_r, info, aad))
    }

    fn hpke_setup_sender_and_export(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<(KemOutput, ExporterSecret), CryptoError> {
        delegate!(
            self,
            hpke_setup_sender_and_export(config, pk_r, info, exporter_context, exporter_length)
        )
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
        delegate!(
            self,
            hpke_setup_receiver_and_export(
                config,
                enc,
                sk_r,
                info,
                exporter_context,
                exporter_length
            )
        )
    }

    fn derive_hpke_keypair(
        &self,
        config: HpkeConfig,
        ikm: &[u8],
    ) -> Result<HpkeKeyPair, CryptoError> {
        delegate!(self, derive_hpke_keypair(config, ikm))
    }
}
