//! Serving over TLS: the certificate chain and key (PEM) and the rustls configuration (ring
//! provider, TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`); `serve` runs the connections.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The server's certificate chain (leaf first) and private key, as PEM.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_chain_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field(
                "cert_chain_pem",
                &format!("{} bytes", self.cert_chain_pem.len()),
            )
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl TlsIdentity {
    /// Reads both files and proves that they make a usable configuration.
    pub fn from_files(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let cert_chain_pem = std::fs::read_to_string(cert)
            .with_context(|| format!("cannot read TLS certificate {}", cert.display()))?;
        let key_pem = std::fs::read_to_string(key)
            .with_context(|| format!("cannot read TLS key {}", key.display()))?;
        let identity = Self {
            cert_chain_pem,
            key_pem,
        };
        identity.server_config(true).with_context(|| {
            format!(
                "TLS certificate {} with key {}",
                cert.display(),
                key.display()
            )
        })?;
        Ok(identity)
    }

    /// The rustls configuration; `http2` false offers only `http/1.1` by ALPN.
    pub fn server_config(&self, http2: bool) -> anyhow::Result<rustls::ServerConfig> {
        let chain = CertificateDer::pem_slice_iter(self.cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("the certificate file is not PEM")?;
        if chain.is_empty() {
            bail!("the certificate file holds no CERTIFICATE block");
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .context("the key file holds no PKCS#8, PKCS#1 or SEC1 private key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the key does not belong to the certificate, or is unsupported")?;
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(config)
    }
}
