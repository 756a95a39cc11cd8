//! The target under test and how the harness obtains its actors (see TARGET.md).

use crate::Error;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::clients::actors::{ActorSource, StaticActor};
use crate::clients::tls::TlsSettings;

/// `--config FILE` for `p2mls run --target URL`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Base URL; `--target` overrides it.
    #[serde(default)]
    pub url: Option<String>,
    /// Per-request timeout: a total deadline from connecting to the end of the body.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Longest a single check may take, whatever the target does.
    #[serde(default = "default_check_timeout")]
    pub check_timeout_seconds: u64,
    /// The gateway's WebSocket URL, for targets without `GET /.p2/core/v1/gateway`.
    #[serde(default)]
    pub gateway_url: Option<String>,
    /// How long to wait for a gateway event, in milliseconds.
    #[serde(default = "default_event_timeout")]
    pub event_timeout_ms: u64,
    /// Retries of one request answered 429 (or 503 with Retry-After).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Seconds the whole run may spend waiting out rate limits; past it a rate-limited check
    /// is `error` ("rate-limited past the budget"), never `fail`.
    #[serde(default = "default_retry_budget")]
    pub retry_budget_seconds: u64,
    /// Requests per second across the run (`--rate` overrides). Default: unlimited on a
    /// loopback target, 10 elsewhere.
    #[serde(default)]
    pub rate_per_second: Option<f64>,
    /// Extra trust anchors (PEM files, relative to the config file) for https/wss targets whose
    /// certificate a private CA issued; the bundled web roots are always trusted.
    #[serde(default)]
    pub ca_certs: Vec<PathBuf>,
    /// Accept any TLS certificate: for local experiments only. Every report says so, and the
    /// TLS certificate check is `unsupported`.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The most KeyPackages one session may store (PROFILE.keypackage-upload-limit); without
    /// it the limit check is unsupported.
    #[serde(default)]
    pub keypackage_limit: Option<usize>,
    /// Base URL at which the visible domain (the domain of the actors' FIDs) serves
    /// `/.well-known/polyproto-core` (core 3.1). Default: the target's scheme and the visible
    /// domain; a loopback visible domain (`localhost`) of a loopback target on the target's port.
    #[serde(default)]
    pub visible_url: Option<String>,
    pub actors: ActorSource,
    /// Trust anchors resolved at load time (embedded runs set them directly).
    #[serde(skip)]
    pub tls: TlsSettings,
}

fn default_timeout() -> u64 {
    10
}

fn default_max_retries() -> u32 {
    5
}

fn default_retry_budget() -> u64 {
    120
}

fn default_check_timeout() -> u64 {
    120
}

fn default_event_timeout() -> u64 {
    5000
}

impl TargetConfig {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read config {}: {e}", path.display())))?;
        let config: Self = toml::from_str(&text)
            .map_err(|e| Error::Config(format!("invalid config {}: {e}", path.display())))?;
        if let ActorSource::Static { list } = &config.actors {
            if list.len() < 3 {
                return Err(Error::Config(format!(
                    "{}: static mode needs at least three actors",
                    path.display()
                )));
            }
        }
        if let ActorSource::Reference { name_prefix, .. } = &config.actors {
            let allowed =
                |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
            if name_prefix.len() > 12 || !name_prefix.chars().all(allowed) {
                return Err(Error::Config(format!(
                    "{}: name_prefix {name_prefix:?} must be at most 12 of a-z, 0-9, '.', '_', '-'",
                    path.display()
                )));
            }
        }
        if let ActorSource::Command { command, .. } = &config.actors {
            if command.is_empty() {
                return Err(Error::Config(format!(
                    "{}: command mode needs a command",
                    path.display()
                )));
            }
        }
        if let Some(url) = &config.visible_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::Config(format!(
                    "{}: visible_url {url:?} must be an http:// or https:// URL",
                    path.display()
                )));
            }
        }
        let mut config = config;
        let dir = path.parent().unwrap_or(Path::new("."));
        config.ca_certs = config
            .ca_certs
            .iter()
            .map(|ca| {
                if ca.is_relative() {
                    dir.join(ca)
                } else {
                    ca.clone()
                }
            })
            .collect();
        config.tls = TlsSettings::from_files(&config.ca_certs, config.insecure_skip_verify)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Ok(config)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.max(1))
    }

    pub fn check_timeout(&self) -> Duration {
        Duration::from_secs(self.check_timeout_seconds.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_parse_and_bad_ones_are_refused() {
        let dir = std::env::temp_dir().join(format!("p2mls-target-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "url = 'http://x'\n[actors]\nmode = 'reference'\nregistration_secret = 's'\n",
        )
        .expect("write");
        assert!(matches!(
            TargetConfig::load(&good).expect("loads").actors,
            ActorSource::Reference { .. }
        ));
        let few = dir.join("few.toml");
        std::fs::write(&few, "[actors]\nmode = 'static'\nlist = []\n").expect("write");
        assert!(TargetConfig::load(&few)
            .unwrap_err()
            .to_string()
            .contains("three"));
        let typo = dir.join("typo.toml");
        std::fs::write(
            &typo,
            "[actors]\nmode = 'reference'\nregistration_secrett = 's'\n",
        )
        .expect("write");
        assert!(TargetConfig::load(&typo).is_err());
        let prefixed = dir.join("prefixed.toml");
        std::fs::write(
            &prefixed,
            "[actors]\nmode = 'reference'\nregistration_secret = 's'\nname_prefix = 'ci-'\n",
        )
        .expect("write");
        assert!(matches!(
            TargetConfig::load(&prefixed).expect("loads").actors,
            ActorSource::Reference { name_prefix, .. } if name_prefix == "ci-"
        ));
        let shouty = dir.join("shouty.toml");
        std::fs::write(
            &shouty,
            "[actors]\nmode = 'reference'\nregistration_secret = 's'\nname_prefix = 'CI '\n",
        )
        .expect("write");
        assert!(TargetConfig::load(&shouty)
            .unwrap_err()
            .to_string()
            .contains("name_prefix"));
        let visible = dir.join("visible.toml");
        std::fs::write(
            &visible,
            "visible_url = 'https://example.com'\n[actors]\nmode = 'reference'\nregistration_secret = 's'\n",
        )
        .expect("write");
        assert_eq!(
            TargetConfig::load(&visible)
                .expect("loads")
                .visible_url
                .as_deref(),
            Some("https://example.com")
        );
        let schemeless = dir.join("schemeless.toml");
        std::fs::write(
            &schemeless,
            "visible_url = 'example.com'\n[actors]\nmode = 'reference'\nregistration_secret = 's'\n",
        )
        .expect("write");
        assert!(TargetConfig::load(&schemeless)
            .unwrap_err()
            .to_string()
            .contains("visible_url"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
