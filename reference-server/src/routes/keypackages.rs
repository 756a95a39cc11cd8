//! KeyPackage upload and discovery (the DS's store of initial key material).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use axum::extract::State;

use crate::params::{Path, Query};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use p2mls_protocol::identifiers::{parse_code_point, parse_version};
use p2mls_protocol::routes::MLS_BASE;
use rusqlite::OptionalExtension;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::faults::Fault;
use crate::json::RawBody;
use crate::mls::{KeyPackageBody, ValidKeyPackage};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{MLS_BASE}/keypackages"), post(upload))
        .route(&format!("{MLS_BASE}/keypackages/{{fid}}"), get(discover))
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
            let (stored, stored_last_resort): (usize, usize) = tx.query_row(
                "SELECT count(*), coalesce(sum(last_resort), 0) FROM keypackages \
                 WHERE fid = ?1 AND session_id = ?2",
                (&caller.fid, &caller.session_id),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
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
                let exists = tx
                    .query_row("SELECT 1 FROM keypackages WHERE id = ?1", [&kp.id], |_| {
                        Ok(())
                    })
                    .optional()?
                    .is_some();
                if exists {
                    faulty.push((kp.id.clone(), "KeyPackage was uploaded before".to_owned()));
                }
            }
            if !faulty.is_empty() {
                return Err(ApiError::FaultyKeyPackages(faulty));
            }
            for kp in &valid {
                if kp.last_resort {
                    // A new last-resort package replaces the client's previous one.
                    tx.execute(
                        "DELETE FROM keypackages WHERE fid = ?1 AND session_id = ?2 AND last_resort = 1",
                        (&caller.fid, &caller.session_id),
                    )?;
                }
                tx.execute(
                    "INSERT INTO keypackages (id, fid, session_id, suite, version, extensions, \
                     last_resort, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    (
                        &kp.id,
                        &caller.fid,
                        &caller.session_id,
                        kp.suite,
                        kp.version,
                        serde_json::to_string(&kp.extensions).unwrap_or_default(),
                        kp.last_resort,
                        kp.json.to_string(),
                    ),
                )?;
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
    parse: impl Fn(&str) -> Result<T, p2mls_protocol::identifiers::IdentifierError>,
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

    fn matches(&self, suite: u16, version: u16, extensions: &str, any_suite: bool) -> bool {
        let supported: BTreeSet<u16> = serde_json::from_str(extensions).unwrap_or_default();
        (any_suite || self.suites.contains(&suite))
            && self.versions.contains(&version)
            && self.extensions.is_subset(&supported)
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
            let sql = if case_sensitive {
                "SELECT fid FROM actors WHERE fid = ?1"
            } else {
                "SELECT fid FROM actors WHERE fid = ?1 COLLATE NOCASE"
            };
            let fid: String = tx
                .query_row(sql, [&fid], |r| r.get(0))
                .optional()?
                .ok_or(ApiError::NotFound)?;
            // Filter on the small columns first; only chosen packages' JSON is read.
            let mut stmt = tx.prepare(
                "SELECT seq, session_id, suite, version, extensions, last_resort \
                 FROM keypackages WHERE fid = ?1 ORDER BY session_id, last_resort, seq",
            )?;
            let rows = stmt
                .query_map([&fid], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, u16>(2)?,
                        r.get::<_, u16>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, bool>(5)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            // One package per client (session): the oldest matching one-time package, else the
            // matching last-resort package, which is kept (PROFILE.keypackage-one-time).
            let mut chosen: Vec<(i64, bool, String)> = Vec::new();
            let mut served_sessions = BTreeSet::new();
            for (seq, session, suite, version, extensions, last_resort) in rows {
                if served_sessions.contains(&session)
                    || !filters.matches(suite, version, &extensions, any_suite)
                {
                    continue;
                }
                served_sessions.insert(session);
                let json: String =
                    tx.query_row("SELECT json FROM keypackages WHERE seq = ?1", [seq], |r| {
                        r.get(0)
                    })?;
                chosen.push((seq, last_resort, json));
            }
            for (seq, last_resort, _) in &chosen {
                if !last_resort && !reuse {
                    tx.execute("DELETE FROM keypackages WHERE seq = ?1", [seq])?;
                }
            }
            Ok(chosen
                .into_iter()
                .map(|(_, _, json)| json)
                .collect::<Vec<_>>())
        })
        .await?;
    let found = found
        .iter()
        .map(|j| serde_json::from_str(j).map_err(|e| ApiError::Internal(e.to_string())))
        .collect::<Result<Vec<Value>, _>>()?;
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
