//! Obtaining actor sessions from the target: registration + ID-CSR (reference mode), a static
//! list, or an operator's command.

use crate::Error;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use p2mls_protocol::idcert::{build_csr, cert_pem_to_der, ActorName};
use p2mls_protocol::routes;
use reqwest::Method;
use serde_json::json;

use crate::clients::http::{ApiRequest, Auth, Http};
use crate::clients::mls::MlsClient;

/// Where the (at least three) actors come from.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ActorSource {
    /// Register through the p2mls registration route with the shared secret, then obtain an
    /// ID-Cert for a fresh session key through the core ID-CSR route.
    Reference {
        registration_secret: String,
        /// Put in front of every actor name the run registers (`ci-` gives `ci-alice-1a2b3c4d`),
        /// so an operator can tell harness actors apart; a random run tag follows the name, so
        /// runs never collide. Lowercase letters, digits, `.`, `_`, `-`; 12 characters at most.
        #[serde(default)]
        name_prefix: String,
    },
    /// Actors listed in the file.
    Static { list: Vec<StaticActor> },
    /// A program that prints a JSON array of `StaticActor` objects on stdout; it is killed
    /// when it runs longer than `timeout_seconds`.
    Command {
        command: Vec<String>,
        #[serde(default = "default_command_timeout")]
        timeout_seconds: u64,
    },
}

fn default_command_timeout() -> u64 {
    60
}

/// An actor whose session the operator set up beforehand.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticActor {
    pub fid: String,
    pub session_id: String,
    /// Bearer session token for `/.p2/mls/v1/`.
    pub token: String,
    /// Hex of the 32-byte Ed25519 seed of the session's identity key.
    pub signing_key: String,
    /// The ID-Cert the target issued for that key (PEM).
    pub id_cert_pem: String,
}

/// One actor session the checks act as.
#[derive(Clone)]
pub struct Actor {
    /// Upper-case label used for the token in evidence (`$TOKEN_ALICE`).
    pub label: String,
    pub fid: String,
    pub session_id: String,
    pub token: String,
    /// The actor's default client (openmls_rust_crypto); suite runs make their own.
    pub mls: Arc<MlsClient>,
    /// The account behind the session, known only when the harness registered it (reference
    /// mode): what the ID-CSR checks need to ask for more ID-Certs.
    pub account: Option<Account>,
}

/// An account registered through PROFILE.actor-registration.
#[derive(Clone)]
pub struct Account {
    pub local_name: String,
    pub domain: String,
    pub token: String,
    /// The second factor of the ID-CSR sensitive action.
    pub password: String,
}

/// The secrets stay out of debug output.
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("local_name", &self.local_name)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// The pDN claims of a session of this account.
    pub fn name(&self, session_id: &str) -> ActorName {
        ActorName {
            local_name: self.local_name.clone(),
            domain: self.domain.clone(),
            session_id: session_id.to_owned(),
        }
    }

    /// `POST /.p2/core/v1/idcert` with this account's token and second factor
    /// (PROFILE.idcert-issue); `label` names both secrets in the evidence.
    pub fn id_csr_request(&self, label: &str, csr_pem: String) -> ApiRequest {
        self.sensitive_request(Method::POST, routes::IDCERT.to_owned(), label)
            .raw("text/plain", csr_pem)
    }

    /// `DELETE /.p2/core/v1/session?session_id=…` with this account's token and second factor
    /// (PROFILE.session-revoke); `label` names both secrets in the evidence.
    pub fn revoke_request(&self, label: &str, session_id: &str) -> ApiRequest {
        let path = format!("{}?session_id={session_id}", routes::SESSION);
        self.sensitive_request(Method::DELETE, path, label)
    }

    /// A sensitive action (core 4.1.2): the account's token and its second factor.
    fn sensitive_request(&self, method: Method, path: String, label: &str) -> ApiRequest {
        ApiRequest::new(
            method,
            path,
            Auth::Bearer {
                token: self.token.clone(),
                label: format!("ACCOUNT_{label}"),
            },
        )
        .secret_header(
            routes::SENSITIVE_SOLUTION_HEADER,
            &self.password,
            &format!("PASSWORD_{label}"),
        )
    }
}

impl Actor {
    pub fn auth(&self) -> Auth {
        Auth::Bearer {
            token: self.token.clone(),
            label: format!("TOKEN_{}", self.label),
        }
    }
}

const NAMES: [&str; 3] = ["alice", "bob", "carol"];

/// Obtains the actors (alice, bob, carol, in that order).
pub async fn obtain(http: &Http, source: &ActorSource, run_tag: &str) -> Result<Vec<Actor>, Error> {
    obtain_actors(http, source, run_tag)
        .await
        .map_err(Error::Actors)
}

async fn obtain_actors(
    http: &Http,
    source: &ActorSource,
    run_tag: &str,
) -> Result<Vec<Actor>, String> {
    match source {
        ActorSource::Reference {
            registration_secret,
            name_prefix,
        } => {
            let mut actors = Vec::new();
            for name in NAMES {
                let mut actor = register_actor(
                    http,
                    registration_secret,
                    &format!("{name_prefix}{name}"),
                    run_tag,
                )
                .await?;
                // Evidence names secrets after the role ($TOKEN_ALICE), whatever the prefix.
                actor.label = name.to_uppercase();
                actors.push(actor);
            }
            Ok(actors)
        }
        ActorSource::Static { list } => list
            .iter()
            .zip(NAMES)
            .map(|(a, n)| from_static(a, n))
            .collect(),
        ActorSource::Command {
            command,
            timeout_seconds,
        } => {
            let limit = std::time::Duration::from_secs((*timeout_seconds).max(1));
            // kill_on_drop: a command that overruns is killed when the timeout drops it.
            let run = tokio::process::Command::new(&command[0])
                .args(&command[1..])
                .kill_on_drop(true)
                .output();
            let output = tokio::time::timeout(limit, run)
                .await
                .map_err(|_| {
                    format!(
                        "actor command {:?} did not finish within {} s (timeout_seconds)",
                        command[0],
                        limit.as_secs()
                    )
                })?
                .map_err(|e| format!("cannot run actor command {:?}: {e}", command[0]))?;
            if !output.status.success() {
                return Err(format!(
                    "actor command exited with {}: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            let list: Vec<StaticActor> = serde_json::from_slice(&output.stdout)
                .map_err(|e| format!("actor command printed no actor list: {e}"))?;
            if list.len() < 3 {
                return Err("actor command printed fewer than three actors".into());
            }
            list.iter()
                .zip(NAMES)
                .map(|(a, n)| from_static(a, n))
                .collect()
        }
    }
}

fn from_static(actor: &StaticActor, name: &str) -> Result<Actor, String> {
    let seed: [u8; 32] = hex::decode(&actor.signing_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{}: signing_key must be 64 hex digits", actor.fid))?;
    let cert = cert_pem_to_der(&actor.id_cert_pem).map_err(|e| format!("{}: {e}", actor.fid))?;
    config_matches_cert(actor, &seed, &cert).map_err(|why| format!("{}: {why}", actor.fid))?;
    Ok(Actor {
        label: name.to_uppercase(),
        fid: actor.fid.clone(),
        session_id: actor.session_id.clone(),
        token: actor.token.clone(),
        mls: Arc::new(MlsClient::new(SigningKey::from_bytes(&seed), cert)),
        account: None,
    })
}

/// A configured actor is checked against its own ID-Cert before the run: the seed's public key is
/// the certificate's subject key and the fid and session id are its pDN's, so a wrong config is a
/// usage error and not a target failure.
fn config_matches_cert(actor: &StaticActor, seed: &[u8; 32], der: &[u8]) -> Result<(), String> {
    let cert = crate::x509::parse(der).map_err(|e| format!("id_cert_pem: {e}"))?;
    let key = crate::x509::ed25519_key(&cert).map_err(|e| format!("id_cert_pem: {e}"))?;
    if key != SigningKey::from_bytes(seed).verifying_key().to_bytes() {
        return Err("signing_key is not the key of id_cert_pem's subject".into());
    }
    let claims = crate::x509::claims(cert.subject()).map_err(|e| format!("id_cert_pem: {e}"))?;
    let uid = claims.uid.unwrap_or_default();
    if !uid.eq_ignore_ascii_case(&actor.fid) {
        return Err(format!("fid differs from id_cert_pem's UID `{uid}`"));
    }
    let session = claims.session_id.unwrap_or_default();
    if session != actor.session_id {
        return Err(format!(
            "session_id differs from id_cert_pem's uniqueIdentifier `{session}`"
        ));
    }
    Ok(())
}

/// An upper-case name usable as a shell variable in evidence (`$ACCOUNT_CI_ALICE`).
fn evidence_label(name: &str) -> String {
    name.to_uppercase().replace(['-', '.'], "_")
}

/// Registers one actor through the reference route and obtains an ID-Cert for a new session.
pub async fn register(
    http: &Http,
    secret: &str,
    name: &str,
    run_tag: &str,
) -> Result<Actor, Error> {
    register_actor(http, secret, name, run_tag)
        .await
        .map_err(Error::Actors)
}

async fn register_actor(
    http: &Http,
    secret: &str,
    name: &str,
    run_tag: &str,
) -> Result<Actor, String> {
    let local_name = format!("{name}-{run_tag}");
    let password = crate::random_hex(16);
    let req = ApiRequest::new(Method::POST, routes::REGISTER, Auth::None)
        .json(&json!({ "name": local_name, "secret": secret, "password": password }));
    let (result, _) = http.send(&req).await;
    let response = result?;
    let body = response
        .json()
        .filter(|_| response.status == 201)
        .ok_or_else(|| {
            format!(
                "registration of {local_name} answered {}: {}",
                response.status,
                response.text()
            )
        })?;
    let fid = body["fid"]
        .as_str()
        .ok_or("registration answer lacks fid")?
        .to_owned();
    let account_token = body["token"]
        .as_str()
        .ok_or("registration answer lacks token")?
        .to_owned();
    let domain = fid
        .split_once('@')
        .map(|(_, d)| d.to_owned())
        .ok_or("fid has no domain")?;
    let account = Account {
        local_name: local_name.clone(),
        domain,
        token: account_token,
        password,
    };
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let session_id = format!("p2mls-{}", crate::random_hex(4));
    let csr = build_csr(&account.name(&session_id), &key).map_err(|e| e.to_string())?;
    let req = account.id_csr_request(&evidence_label(name), csr);
    let (result, _) = http.send(&req).await;
    let response = result?;
    let body = response
        .json()
        .filter(|_| response.status == 201)
        .ok_or_else(|| {
            format!(
                "ID-CSR of {local_name} answered {}: {}",
                response.status,
                response.text()
            )
        })?;
    let pem = body["id_cert"]
        .as_str()
        .ok_or("ID-Cert answer lacks id_cert")?;
    let token = body["token"]
        .as_str()
        .ok_or("ID-Cert answer lacks token")?
        .to_owned();
    let cert = cert_pem_to_der(pem).map_err(|e| e.to_string())?;
    Ok(Actor {
        label: evidence_label(name),
        fid,
        session_id,
        token,
        mls: Arc::new(MlsClient::new(key, cert)),
        account: Some(account),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_actor_command_that_overruns_is_stopped_with_a_clear_error() {
        let http =
            Http::new("http://127.0.0.1:9", std::time::Duration::from_secs(1)).expect("http");
        let source = ActorSource::Command {
            command: vec!["sleep".into(), "30".into()],
            timeout_seconds: 1,
        };
        let err = obtain(&http, &source, "tag")
            .await
            .err()
            .expect("an overrunning command is an error");
        assert!(
            err.to_string().contains("did not finish within 1 s"),
            "{err}"
        );
    }
}
