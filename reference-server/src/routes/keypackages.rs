//! KeyPackage upload and discovery (the DS's store of initial key material).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use p2mls_protocol::identifiers::{parse_code_point, parse_version};
use p2mls_protocol::routes;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::faults::Fault;
use crate::json::RawBody;
use crate::mls::{KeyPackageBody, ValidKeyPackage};
use crate::params::{Path, Query};
use crate::state::AppState;
use crate::store::KeyPackageSummary;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::KEYPACKAGES, post(upload))
        .route(&routes::keypackages_of("{fid}"), get(discover))
}

/// The JSON `id` of an array element, or its position when it has none.
fn element_id(index: usize, value: &Value) -> String {
    value
        .get("id")
        .and_then(Value::as_str)
        .map_or_else(|| format!("#{index}"), str::to_owned)
}

/// The batch of an upload: a JSON array, or the one-entry error array of
/// PROFILE.keypackage-batch-atomic (`#body`) for a body that is not one.
fn batch(bytes: &[u8], state: &AppState) -> Result<Vec<Value>, ApiError> {
    let reason = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => return Ok(items),
        Ok(_) => "the body is not a JSON array of KeyPackages".to_owned(),
        Err(e) => format!("the body is not JSON: {e}"),
    };
    if state.config.faults.contains(&Fault::CrashOnBadJson) {
        return Err(ApiError::Internal(format!("fault: {reason}")));
    }
    // Fault: the generic error object instead of the documented array.
    if state.config.faults.contains(&Fault::UploadErrorObject) {
        return Err(ApiError::bad(reason));
    }
    Err(ApiError::FaultyKeyPackages(vec![("#body".into(), reason)]))
}

async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    RawBody(bytes): RawBody,
) -> Result<impl IntoResponse, ApiError> {
    let body = batch(&bytes, &state)?;
    let other_actor_ok = state.config.faults.contains(&Fault::AcceptOtherActor);
    let two_last_resorts_ok = state.config.faults.contains(&Fault::TwoLastResorts);
    let mut faulty = Vec::new();
    let mut valid: Vec<ValidKeyPackage> = Vec::new();
    // Fault: packages refused for their owner, stored anyway.
    let mut refused_but_kept: Vec<ValidKeyPackage> = Vec::new();
    let store_refused = state.config.faults.contains(&Fault::StoreRefused);
    let mut seen = BTreeSet::new();
    // All packages of a sound batch are the caller's session's: one client.
    let mut last_resort_seen = false;
    let crash = state.config.faults.contains(&Fault::CrashOnBadJson);
    for (index, element) in body.iter().enumerate() {
        let id = element_id(index, element);
        let parsed = serde_json::from_value::<KeyPackageBody>(element.clone());
        if crash && parsed.is_err() {
            return Err(ApiError::Internal("fault: mistyped KeyPackage".into()));
        }
        let checked = parsed
            .map_err(|e| format!("not a KeyPackage object: {e}"))
            .and_then(|kp| state.mls.check_key_package(&kp));
        match checked {
            Err(reason) => faulty.push((id, reason)),
            Ok(kp)
                if !other_actor_ok
                    && (kp.owner.fid() != caller.fid
                        || kp.owner.session_id != caller.session_id) =>
            {
                if store_refused {
                    refused_but_kept.push(kp);
                }
                faulty.push((id, "credential belongs to another actor or session".into()))
            }
            Ok(kp) if !seen.insert(kp.id.clone()) => {
                faulty.push((id, "duplicate KeyPackage in this batch".into()))
            }
            Ok(kp) if kp.last_resort && last_resort_seen && !two_last_resorts_ok => faulty.push((
                id,
                "a second last-resort package for this client in one batch".into(),
            )),
            Ok(kp) => {
                last_resort_seen |= kp.last_resort;
                valid.push(kp)
            }
        }
    }
    // Fault: store the sound packages of a batch that also had faulty ones.
    let partial = state.config.faults.contains(&Fault::PartialBatch);
    let store_sound_ones = partial && !valid.is_empty();
    if !faulty.is_empty() && !store_sound_ones {
        if !refused_but_kept.is_empty() {
            let owner = caller.clone();
            state
                .store
                .tx(move |tx| {
                    for kp in &refused_but_kept {
                        tx.insert_key_package(&owner.fid, &owner.session_id, kp)?;
                    }
                    Ok(())
                })
                .await?;
        }
        return Err(ApiError::FaultyKeyPackages(faulty));
    }
    let limit = state.config.keypackage_limit;
    let swap_counts = !state
        .config
        .faults
        .contains(&Fault::LastResortSwapOverLimit);
    state
        .store
        .tx(move |tx| {
            let (stored, stored_last_resort) =
                tx.key_package_counts(&caller.fid, &caller.session_id)?;
            // A new last-resort package replaces the stored one: a swap, not an addition.
            let replaced = if swap_counts && valid.iter().any(|kp| kp.last_resort) {
                stored_last_resort
            } else {
                0
            };
            if stored - replaced + valid.len() > limit {
                return Err(ApiError::TooManyKeyPackages(limit));
            }
            let mut faulty = Vec::new();
            for kp in &valid {
                if tx.key_package_exists(&kp.id)? {
                    faulty.push((kp.id.clone(), "KeyPackage was uploaded before".to_owned()));
                }
            }
            if !faulty.is_empty() {
                return Err(ApiError::FaultyKeyPackages(faulty));
            }
            for kp in &valid {
                if kp.last_resort {
                    // A new last-resort package replaces the client's previous one.
                    tx.delete_last_resort(&caller.fid, &caller.session_id)?;
                }
                tx.insert_key_package(&caller.fid, &caller.session_id, kp)?;
            }
            Ok(())
        })
        .await?;
    // The document's 200 answer is text/plain holding the number 200.
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        "200",
    ))
}

/// Parsed discovery filters (explode: false, comma-separated).
struct Filters {
    versions: BTreeSet<u16>,
    suites: BTreeSet<u16>,
    extensions: BTreeSet<u16>,
}

fn parse_list<T: Ord>(
    raw: Option<&String>,
    parse: impl Fn(&str) -> Result<T, p2mls_protocol::Error>,
) -> Result<Option<BTreeSet<T>>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse(s.trim()).map_err(|e| ApiError::bad(e.to_string())))
        .collect::<Result<BTreeSet<T>, _>>()
        .map(Some)
}

impl Filters {
    fn parse(query: &HashMap<String, String>, default_suites: bool) -> Result<Self, ApiError> {
        let suites = parse_list(query.get("ciphersuites"), parse_code_point)?
            .filter(|s| !s.is_empty())
            .or_else(|| default_suites.then(|| BTreeSet::from([0x0001, 0xF110])))
            .ok_or_else(|| {
                ApiError::bad("query parameter ciphersuites needs at least one value")
            })?;
        Ok(Self {
            versions: parse_list(query.get("versions"), parse_version)?
                .unwrap_or_else(|| BTreeSet::from([1])),
            suites,
            extensions: parse_list(query.get("extensions"), parse_code_point)?.unwrap_or_default(),
        })
    }

    fn matches(&self, kp: &KeyPackageSummary, any_suite: bool) -> bool {
        (any_suite || self.suites.contains(&kp.suite))
            && self.versions.contains(&kp.version)
            && self.extensions.is_subset(&kp.extensions)
    }
}

async fn discover(
    State(state): State<AppState>,
    caller: Caller,
    Path(fid): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    // Another actor's packages only (one's own are not limited): PROFILE.keypackage-discovery-limit.
    let requester = format!("{}/{}", caller.fid, caller.session_id);
    let limiter = state
        .discovery_limiter
        .clone()
        .filter(|_| !caller.fid.eq_ignore_ascii_case(&fid));
    if let Some(limiter) = &limiter {
        if let Err(wait) = limiter.admit(&requester, &fid.to_lowercase(), Instant::now()) {
            return Err(ApiError::RateLimited(wait.as_secs().max(1)));
        }
    }
    let limited_fid = fid.to_lowercase();
    let default_suites = state.config.faults.contains(&Fault::DefaultCiphersuites);
    let filters = Filters::parse(&query, default_suites)?;
    let reuse = state.config.faults.contains(&Fault::KeypackageReuse);
    let any_suite = state.config.faults.contains(&Fault::IgnoreSuiteFilter);
    let case_sensitive = state.config.faults.contains(&Fault::FidCaseSensitive);
    let found = state
        .store
        .tx(move |tx| {
            // FIDs compare case-insensitively (PROFILE.keypackage-one-time); the stored spelling
            // is the one packages are filed under.
            let fid = tx
                .actor_fid(&fid, case_sensitive)?
                .ok_or(ApiError::NotFound)?;
            // One package per client (session): the oldest matching one-time package, else the
            // matching last-resort package, which is kept (PROFILE.keypackage-one-time).
            let mut chosen = Vec::new();
            let mut served_sessions = BTreeSet::new();
            for kp in tx.key_package_summaries(&fid)? {
                if served_sessions.contains(&kp.session_id) || !filters.matches(&kp, any_suite) {
                    continue;
                }
                chosen.push(tx.key_package_json(kp.seq)?);
                if !kp.last_resort && !reuse {
                    tx.take_one_time(kp.seq)?;
                }
                served_sessions.insert(kp.session_id);
            }
            Ok(chosen)
        })
        .await?;
    // What was consumed counts (a package handed out again was not).
    if let Some(limiter) = limiter.as_ref().filter(|_| !reuse) {
        let one_time = found
            .iter()
            .filter(|kp| kp["lastResort"].as_bool() != Some(true))
            .count();
        limiter.record(&requester, &limited_fid, one_time, Instant::now());
    }
    Ok(axum::Json(found))
}
