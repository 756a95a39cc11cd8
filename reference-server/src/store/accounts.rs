//! The server's own key, registered actors and their sessions (one per issued ID-Cert).

use rusqlite::OptionalExtension;

use super::tx::Tx;
use crate::error::ApiError;

/// A registered actor's account, found by its account token.
pub struct Account {
    pub local_name: String,
    pub fid: String,
    /// The second factor of sensitive actions.
    pub password: String,
}

/// A session: an actor's ID-Cert and the bearer token of the MLS API it was issued with.
pub struct Session {
    pub fid: String,
    pub session_id: String,
    pub public_key: Vec<u8>,
}

/// An ID-Cert this server issued: DER and serial number (big-endian).
pub struct IssuedCert {
    pub der: Vec<u8>,
    pub serial: Vec<u8>,
}

/// What a new session row holds.
pub struct NewSession<'a> {
    pub token: &'a str,
    pub fid: &'a str,
    pub session_id: &'a str,
    pub public_key: &'a [u8],
    pub cert_der: &'a [u8],
    pub serial: &'a [u8],
}

impl Tx<'_> {
    /// The seed of the server's Ed25519 identity key, if one was created.
    pub fn server_seed(&self) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(self
            .0
            .query_row("SELECT seed FROM server_key WHERE id = 1", [], |r| r.get(0))
            .optional()?)
    }

    pub fn insert_server_seed(&self, seed: &[u8]) -> Result<(), ApiError> {
        self.0
            .execute("INSERT INTO server_key (id, seed) VALUES (1, ?1)", [seed])?;
        Ok(())
    }

    /// Whether a local name is registered, in any letter case (core 5); `case_sensitive` only
    /// for the fault that compares names byte for byte.
    pub fn local_name_taken(
        &self,
        local_name: &str,
        case_sensitive: bool,
    ) -> Result<bool, ApiError> {
        let sql = if case_sensitive {
            "SELECT 1 FROM actors WHERE local_name = ?1"
        } else {
            "SELECT 1 FROM actors WHERE local_name = ?1 COLLATE NOCASE"
        };
        Ok(self
            .0
            .query_row(sql, [local_name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn insert_actor(
        &self,
        local_name: &str,
        fid: &str,
        password: &str,
        account_token: &str,
    ) -> Result<(), ApiError> {
        self.0.execute(
            "INSERT INTO actors (local_name, fid, password, account_token) VALUES (?1, ?2, ?3, ?4)",
            (local_name, fid, password, account_token),
        )?;
        Ok(())
    }

    pub fn account_by_token(&self, account_token: &str) -> Result<Option<Account>, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT local_name, fid, password FROM actors WHERE account_token = ?1",
                [account_token],
                |r| {
                    Ok(Account {
                        local_name: r.get(0)?,
                        fid: r.get(1)?,
                        password: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// The second factor of an actor's sensitive actions (its registration password).
    pub fn actor_password(&self, fid: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .0
            .query_row("SELECT password FROM actors WHERE fid = ?1", [fid], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The stored spelling of an actor's FID; `case_sensitive` only for the fault that compares
    /// FIDs byte for byte (PROFILE.keypackage-one-time has them case-insensitive).
    pub fn actor_fid(&self, fid: &str, case_sensitive: bool) -> Result<Option<String>, ApiError> {
        let sql = if case_sensitive {
            "SELECT fid FROM actors WHERE fid = ?1"
        } else {
            "SELECT fid FROM actors WHERE fid = ?1 COLLATE NOCASE"
        };
        Ok(self.0.query_row(sql, [fid], |r| r.get(0)).optional()?)
    }

    pub fn session_by_token(&self, token: &str) -> Result<Option<Session>, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT fid, session_id, public_key FROM sessions WHERE token = ?1",
                [token],
                session,
            )
            .optional()?)
    }

    /// The most recently issued session (only for the fault that acts without a token).
    pub fn newest_session(&self) -> Result<Option<Session>, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT fid, session_id, public_key FROM sessions ORDER BY rowid DESC",
                [],
                session,
            )
            .optional()?)
    }

    pub fn session_id_in_use(&self, fid: &str, session_id: &str) -> Result<bool, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT 1 FROM sessions WHERE fid = ?1 AND session_id = ?2",
                (fid, session_id),
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The ID-Certs of an actor's sessions, oldest first; `case_sensitive` only for the fault
    /// that compares FIDs byte for byte.
    pub fn actor_certs(
        &self,
        fid: &str,
        case_sensitive: bool,
    ) -> Result<Vec<IssuedCert>, ApiError> {
        let sql = if case_sensitive {
            "SELECT cert_der, serial FROM sessions WHERE fid = ?1 ORDER BY rowid"
        } else {
            "SELECT cert_der, serial FROM sessions WHERE fid = ?1 COLLATE NOCASE ORDER BY rowid"
        };
        let mut statement = self.0.prepare(sql)?;
        let rows = statement.query_map([fid], |r| {
            Ok(IssuedCert {
                der: r.get(0)?,
                serial: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn delete_session(&self, fid: &str, session_id: &str) -> Result<(), ApiError> {
        self.0.execute(
            "DELETE FROM sessions WHERE fid = ?1 AND session_id = ?2",
            (fid, session_id),
        )?;
        Ok(())
    }

    pub fn insert_session(&self, new: &NewSession<'_>) -> Result<(), ApiError> {
        self.0.execute(
            "INSERT INTO sessions (token, fid, session_id, public_key, cert_der, serial) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (
                new.token,
                new.fid,
                new.session_id,
                new.public_key,
                new.cert_der,
                new.serial,
            ),
        )?;
        Ok(())
    }
}

fn session(r: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        fid: r.get(0)?,
        session_id: r.get(1)?,
        public_key: r.get(2)?,
    })
}
