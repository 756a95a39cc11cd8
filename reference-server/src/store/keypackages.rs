//! Stored KeyPackages: upload, and discovery's one-per-client choice and consumption.

use std::collections::BTreeSet;

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::tx::{parse_json, Tx};
use crate::error::ApiError;
use crate::mls::ValidKeyPackage;

/// The small columns of a stored package: discovery filters on them and reads the JSON of only
/// the packages it chooses.
pub struct KeyPackageSummary {
    pub seq: i64,
    pub session_id: String,
    pub suite: u16,
    pub version: u16,
    pub extensions: BTreeSet<u16>,
    pub last_resort: bool,
}

impl Tx<'_> {
    /// How many packages a session stores, and how many of them are last-resort ones.
    pub fn key_package_counts(
        &self,
        fid: &str,
        session_id: &str,
    ) -> Result<(usize, usize), ApiError> {
        Ok(self.0.query_row(
            "SELECT count(*), coalesce(sum(last_resort), 0) FROM keypackages \
             WHERE fid = ?1 AND session_id = ?2",
            (fid, session_id),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Whether a package with this id was ever stored and not yet consumed.
    pub fn key_package_exists(&self, id: &str) -> Result<bool, ApiError> {
        Ok(self
            .0
            .query_row("SELECT 1 FROM keypackages WHERE id = ?1", [id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Drops a session's last-resort package (a new one replaces it).
    pub fn delete_last_resort(&self, fid: &str, session_id: &str) -> Result<(), ApiError> {
        self.0.execute(
            "DELETE FROM keypackages WHERE fid = ?1 AND session_id = ?2 AND last_resort = 1",
            (fid, session_id),
        )?;
        Ok(())
    }

    pub fn insert_key_package(
        &self,
        fid: &str,
        session_id: &str,
        kp: &ValidKeyPackage,
    ) -> Result<(), ApiError> {
        self.0.execute(
            "INSERT INTO keypackages (id, fid, session_id, suite, version, extensions, \
             last_resort, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            (
                &kp.id,
                fid,
                session_id,
                kp.suite,
                kp.version,
                serde_json::to_string(&kp.extensions).unwrap_or_default(),
                kp.last_resort,
                kp.json.to_string(),
            ),
        )?;
        Ok(())
    }

    /// An actor's packages, per session the one-time ones first, each group oldest first.
    pub fn key_package_summaries(&self, fid: &str) -> Result<Vec<KeyPackageSummary>, ApiError> {
        let mut stmt = self.0.prepare(
            "SELECT seq, session_id, suite, version, extensions, last_resort \
             FROM keypackages WHERE fid = ?1 ORDER BY session_id, last_resort, seq",
        )?;
        let rows = stmt.query_map([fid], |r| {
            Ok(KeyPackageSummary {
                seq: r.get(0)?,
                session_id: r.get(1)?,
                suite: r.get(2)?,
                version: r.get(3)?,
                // An unreadable list supports no extension (it never happens: we wrote it).
                extensions: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                last_resort: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The JSON of a stored package.
    pub fn key_package_json(&self, seq: i64) -> Result<Value, ApiError> {
        let json: String =
            self.0
                .query_row("SELECT json FROM keypackages WHERE seq = ?1", [seq], |r| {
                    r.get(0)
                })?;
        parse_json(&json)
    }

    /// Consumes a one-time package handed out by discovery.
    pub fn take_one_time(&self, seq: i64) -> Result<(), ApiError> {
        self.0
            .execute("DELETE FROM keypackages WHERE seq = ?1", [seq])?;
        Ok(())
    }
}
