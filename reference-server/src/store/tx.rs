//! The handle the named queries hang on (their files are siblings of this one, so that the table
//! families depend on this module, not on the store that re-exports them).

use rusqlite::Connection;
use serde_json::Value;

use crate::error::ApiError;

/// One open transaction: the named queries of the table-family files are its methods, so no SQL
/// leaves the store module.
pub struct Tx<'a>(pub(super) &'a Connection);

/// Parses a JSON column; a row that does not parse is the server's own fault (500).
pub(super) fn parse_json(text: &str) -> Result<Value, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::Internal(format!("stored JSON: {e}")))
}
