//! What every handler shares: configuration, storage, the server's identity, the MLS checks, the
//! gateway hub and the limiters. Built once at start-up (`AppState::new`).

use std::sync::Arc;

use anyhow::Context;
use p2mls_protocol::idcert::{CertProfile, ServerIdentity};
use p2mls_protocol::suites::SuiteRegistry;

use crate::config::Config;
use crate::discovery_limit::DiscoveryLimiter;
use crate::faults::Fault;
use crate::hub::Hub;
use crate::mls::MlsContext;
use crate::rate_limit::Limiter;
use crate::store::Store;

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub identity: Arc<ServerIdentity>,
    pub signing_key: Arc<ed25519_dalek::SigningKey>,
    pub mls: Arc<MlsContext>,
    pub hub: Arc<Hub>,
    /// Per-session request limit (None: unlimited).
    pub limiter: Option<Arc<Limiter>>,
    /// One-time KeyPackages one requester may consume of one actor (None: unlimited).
    pub discovery_limiter: Option<Arc<DiscoveryLimiter>>,
}

impl AppState {
    /// Opens storage and loads (or creates) the server's identity key.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let store = Store::open(config.db.as_deref())
            .with_context(|| format!("cannot open database {:?}", config.db))?
            .write_behind(config.write_behind);
        let seed = store
            .tx(|tx| match tx.server_seed()? {
                Some(seed) => Ok(seed),
                None => {
                    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
                    let seed = key.to_bytes().to_vec();
                    tx.insert_server_seed(&seed)?;
                    Ok(seed)
                }
            })
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the server key: {e}"))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| anyhow::anyhow!("stored server key has the wrong length"))?;
        let signing_key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let profile = if config.faults.contains(&Fault::BrokenCertificates) {
            CertProfile::Broken
        } else {
            CertProfile::Polyproto
        };
        let mut identity = ServerIdentity::with_profile(&config.domain, &signing_key, profile)?;
        if config.faults.contains(&Fault::BrokenRootSignature) {
            (identity.cert_pem, identity.cert_der) =
                p2mls_protocol::idcert::cert_with_flipped_signature(&identity.cert_der)?;
        }
        let mls = MlsContext::new(
            SuiteRegistry::new(config.hybrid_wire),
            identity.cert_der.clone(),
            config.faults.clone(),
        );
        let limiter = config
            .rate_limit
            .filter(|_| !config.faults.contains(&Fault::NoRateLimit))
            .map(|limit| Arc::new(Limiter::new(limit)));
        let discovery_limiter = config
            .discovery_limit
            .filter(|_| !config.faults.contains(&Fault::NoDiscoveryLimit))
            .map(|limit| Arc::new(DiscoveryLimiter::new(limit)));
        let hub = Arc::new(if config.faults.contains(&Fault::NoMlsMessage) {
            Hub::without_mls_message()
        } else {
            Hub::default()
        });
        Ok(Self {
            hub,
            limiter,
            discovery_limiter,
            config: Arc::new(config),
            store,
            identity: Arc::new(identity),
            signing_key: Arc::new(signing_key),
            mls: Arc::new(mls),
        })
    }
}
