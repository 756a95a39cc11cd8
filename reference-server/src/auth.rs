//! Bearer-token authentication of the MLS API (PROFILE.auth-401).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::faults::Fault;
use crate::state::AppState;

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
        let revoked_too = state
            .config
            .faults
            .contains(&Fault::RevokedTokenStillAccepted);
        if token.is_none() && !no_auth {
            return Err(ApiError::Unauthorized);
        }
        state
            .store
            .tx(move |tx| {
                let session = match token {
                    Some(token) => tx.session_by_token(&token, revoked_too)?,
                    None => None,
                };
                let session = match (session, no_auth) {
                    (Some(session), _) => Some(session),
                    // Fault: act for the newest session instead of refusing.
                    (None, true) => tx.newest_session()?,
                    (None, false) => None,
                };
                let session = session.ok_or(ApiError::Unauthorized)?;
                Ok(Caller {
                    fid: session.fid,
                    session_id: session.session_id,
                    public_key: session.public_key,
                })
            })
            .await
    }
}
