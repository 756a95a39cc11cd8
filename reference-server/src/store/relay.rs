//! What the DS relays besides handshake messages: Welcomes for added members and application
//! messages (PROFILE.welcome-delivery, PROFILE.message-relay).

use serde_json::Value;

use super::tx::{parse_json, Tx};
use crate::error::ApiError;

/// An application message as relayed.
pub struct MessageRow {
    pub seq: i64,
    pub epoch: u64,
    pub sender: String,
    pub mls_message: String,
}

impl Tx<'_> {
    pub fn insert_welcome(
        &self,
        group_id: &str,
        fid: &str,
        welcome: &Value,
    ) -> Result<(), ApiError> {
        self.0.execute(
            "INSERT INTO welcomes (group_id, fid, json) VALUES (?1, ?2, ?3)",
            (group_id, fid, welcome.to_string()),
        )?;
        Ok(())
    }

    /// Welcomes addressed to an actor, oldest first.
    pub fn welcomes_for(&self, fid: &str) -> Result<Vec<Value>, ApiError> {
        let mut stmt = self
            .0
            .prepare("SELECT json FROM welcomes WHERE fid = ?1 ORDER BY seq")?;
        let rows = stmt
            .query_map([fid], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|json| parse_json(json)).collect()
    }

    /// Stores an accepted application message; returns its sequence number.
    pub fn insert_message(
        &self,
        group_id: &str,
        epoch: u64,
        sender: &str,
        mls_message: &str,
    ) -> Result<i64, ApiError> {
        self.0.execute(
            "INSERT INTO messages (group_id, epoch, sender, mls_message) VALUES (?1, ?2, ?3, ?4)",
            (group_id, epoch, sender, mls_message),
        )?;
        Ok(self.0.last_insert_rowid())
    }

    /// Application messages after `since` (a seq), in acceptance order.
    pub fn messages_since(&self, group_id: &str, since: i64) -> Result<Vec<MessageRow>, ApiError> {
        let mut stmt = self.0.prepare(
            "SELECT seq, epoch, sender, mls_message FROM messages \
             WHERE group_id = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map((group_id, since), |r| {
            Ok(MessageRow {
                seq: r.get(0)?,
                epoch: r.get(1)?,
                sender: r.get(2)?,
                mls_message: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
