//! Bearer-token authentication of the MLS API (PROFILE.auth-401).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rusqlite::OptionalExtension;

use crate::error::ApiError;
use crate::faults::Fault;
use crate::AppState;

/// The authenticated session making a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub fid: String,
    pub session_id: String,
    pub public_key: Vec<u8>,
}

/// Reads `Authorization: Bearer <token>`.
pub fn bearer(parts: &Parts) -> Option<String> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts);
        let no_auth = state.config.faults.contains(&Fault::NoAuth);
        if token.is_none() && !no_auth {
            return Err(ApiError::Unauthorized);
        }
        state
            .store
            .tx(move |tx| {
                let row = match token {
                    Some(token) => tx
                        .query_row(
                            "SELECT fid, session_id, public_key FROM sessions WHERE token = ?1",
                            [token],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .optional()?,
                    None => None,
                };
                let row = match (row, no_auth) {
                    (Some(row), _) => Some(row),
                    // Fault: act for the newest session instead of refusing.
                    (None, true) => tx
                        .query_row(
                            "SELECT fid, session_id, public_key FROM sessions ORDER BY rowid DESC",
                            [],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .optional()?,
                    (None, false) => None,
                };
                let (fid, session_id, public_key) = row.ok_or(ApiError::Unauthorized)?;
                Ok(Caller {
                    fid,
                    session_id,
                    public_key,
                })
            })
            .await
    }
}
