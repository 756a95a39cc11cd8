//! Who sees a group: only its members; everyone else gets the ambiguous 404. Shared by the group
//! routes and the profile's relay routes.

use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::faults::Fault;
use crate::state::AppState;
use crate::store::{GroupRow, Tx};

/// The group as `fid` sees it: 404 for a missing group and for one `fid` is not a member of
/// (deliberately indistinguishable).
pub fn visible_group(tx: &Tx<'_>, group_id: &str, fid: &str) -> Result<GroupRow, ApiError> {
    tx.group_for_member(group_id, fid)?
        .ok_or(ApiError::NotFound)
}

/// Reads and parses the body of a request to a group's route after checking that the caller
/// sees the group: PROFILE.error-body's order puts visibility (404) before request syntax (400)
/// and limits (413), so a non-member cannot probe a group with malformed bodies.
pub async fn parse_for_member<T: DeserializeOwned>(
    state: &AppState,
    group_id: &str,
    fid: &str,
    body: axum::body::Body,
) -> Result<T, ApiError> {
    // Fault: parse first, so a non-member's malformed body gets 400 before the 404.
    let faults = &state.config.faults;
    if !faults.contains(&Fault::ValidateBeforeVisibility) {
        let (group_id, fid) = (group_id.to_owned(), fid.to_owned());
        state
            .store
            .tx(move |tx| visible_group(tx, &group_id, &fid).map(|_| ()))
            .await?;
    }
    let bytes = crate::json::read(body, state).await?;
    crate::json::parse(&bytes, state)
}
