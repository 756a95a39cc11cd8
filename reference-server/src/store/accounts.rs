//! The server's own key, registered actors and their sessions (one per issued ID-Cert, kept after
//! revocation), and the New Session events each session is owed.

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

/// An active session: an actor's ID-Cert and the bearer token of the MLS API it was issued with.
pub struct Session {
    /// The session's number in issue order (stable, never reused).
    pub seq: i64,
    pub fid: String,
    pub session_id: String,
    pub public_key: Vec<u8>,
}

/// An ID-Cert this server issued: DER, serial number (big-endian) and, once its session was
/// revoked, when (UNIX seconds).
pub struct IssuedCert {
    pub der: Vec<u8>,
    pub serial: Vec<u8>,
    pub revoked_at: Option<i64>,
}

/// A New Session event a session is owed: the new session's number and its ID-Cert (DER).
pub struct OwedNews {
    pub about: i64,
    pub cert_der: Vec<u8>,
}

/// A session just revoked: its token (to close its gateway connections) and number.
pub struct Revoked {
    pub token: String,
    pub seq: i64,
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

    /// The active session of a token; `revoked_too` also finds a revoked one (only for the fault
    /// that keeps accepting revoked tokens).
    pub fn session_by_token(
        &self,
        token: &str,
        revoked_too: bool,
    ) -> Result<Option<Session>, ApiError> {
        let sql = if revoked_too {
            "SELECT seq, fid, session_id, public_key FROM sessions WHERE token = ?1"
        } else {
            "SELECT seq, fid, session_id, public_key FROM sessions \
             WHERE token = ?1 AND revoked_at IS NULL"
        };
        Ok(self.0.query_row(sql, [token], session).optional()?)
    }

    /// The most recently issued active session (only for the fault that acts without a token).
    pub fn newest_session(&self) -> Result<Option<Session>, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT seq, fid, session_id, public_key FROM sessions \
                 WHERE revoked_at IS NULL ORDER BY seq DESC",
                [],
                session,
            )
            .optional()?)
    }

    /// Whether an active session of the actor has this id; `revoked_too` counts revoked ones as
    /// well (only for the fault that never lets a session id be used again).
    pub fn session_id_in_use(
        &self,
        fid: &str,
        session_id: &str,
        revoked_too: bool,
    ) -> Result<bool, ApiError> {
        let sql = if revoked_too {
            "SELECT 1 FROM sessions WHERE fid = ?1 AND session_id = ?2"
        } else {
            "SELECT 1 FROM sessions WHERE fid = ?1 AND session_id = ?2 AND revoked_at IS NULL"
        };
        Ok(self
            .0
            .query_row(sql, (fid, session_id), |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The ID-Certs of an actor's sessions, revoked ones included, oldest first;
    /// `case_sensitive` only for the fault that compares FIDs byte for byte.
    pub fn actor_certs(
        &self,
        fid: &str,
        case_sensitive: bool,
    ) -> Result<Vec<IssuedCert>, ApiError> {
        let sql = if case_sensitive {
            "SELECT cert_der, serial, revoked_at FROM sessions WHERE fid = ?1 ORDER BY seq"
        } else {
            "SELECT cert_der, serial, revoked_at FROM sessions \
             WHERE fid = ?1 COLLATE NOCASE ORDER BY seq"
        };
        let mut statement = self.0.prepare(sql)?;
        let rows = statement.query_map([fid], |r| {
            Ok(IssuedCert {
                der: r.get(0)?,
                serial: r.get(1)?,
                revoked_at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes the actor's active session with this id at `now` (UNIX seconds): its token stops
    /// working, its ID-Cert is listed as invalidated, and the New Session events it was owed are
    /// dropped. `any_actor` matches the id among every actor's sessions (only for the fault that
    /// lets one actor revoke another's session). None: no such active session.
    pub fn revoke_session(
        &self,
        fid: &str,
        session_id: &str,
        now: i64,
        any_actor: bool,
    ) -> Result<Option<Revoked>, ApiError> {
        let sql = if any_actor {
            "SELECT token, seq FROM sessions \
             WHERE session_id = ?2 AND revoked_at IS NULL ORDER BY fid = ?1 DESC"
        } else {
            "SELECT token, seq FROM sessions \
             WHERE fid = ?1 AND session_id = ?2 AND revoked_at IS NULL"
        };
        let found = self
            .0
            .query_row(sql, (fid, session_id), |r| {
                Ok(Revoked {
                    token: r.get(0)?,
                    seq: r.get(1)?,
                })
            })
            .optional()?;
        if let Some(revoked) = &found {
            self.0.execute(
                "UPDATE sessions SET revoked_at = ?1 WHERE seq = ?2",
                (now, revoked.seq),
            )?;
            self.0
                .execute("DELETE FROM session_news WHERE session = ?1", [revoked.seq])?;
        }
        Ok(found)
    }

    /// Inserts a session and returns its number. The actor's other active sessions are owed a New
    /// Session event about it (core 4.4); `owed_to_itself` owes one to the new session too (only
    /// for the fault that announces a session to itself).
    pub fn insert_session(
        &self,
        new: &NewSession<'_>,
        owed_to_itself: bool,
    ) -> Result<i64, ApiError> {
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
        let seq = self.0.last_insert_rowid();
        self.0.execute(
            "INSERT INTO session_news (session, about) \
             SELECT seq, ?2 FROM sessions \
             WHERE fid = ?1 AND revoked_at IS NULL AND (seq != ?2 OR ?3)",
            (new.fid, seq, owed_to_itself),
        )?;
        Ok(seq)
    }

    /// The New Session events an active session is owed, oldest first: (the new session's
    /// number, its ID-Cert). None when the session is not active (revoked meanwhile).
    pub fn owed_news(&self, session: i64) -> Result<Option<Vec<OwedNews>>, ApiError> {
        let active = self
            .0
            .query_row(
                "SELECT 1 FROM sessions WHERE seq = ?1 AND revoked_at IS NULL",
                [session],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !active {
            return Ok(None);
        }
        let mut statement = self.0.prepare(
            "SELECT s.seq, s.cert_der FROM session_news n JOIN sessions s ON s.seq = n.about \
             WHERE n.session = ?1 ORDER BY s.seq",
        )?;
        let rows = statement.query_map([session], |r| {
            Ok(OwedNews {
                about: r.get(0)?,
                cert_der: r.get(1)?,
            })
        })?;
        Ok(Some(rows.collect::<Result<_, _>>()?))
    }

    /// The session was sent the New Session events about these sessions.
    pub fn news_delivered(&self, session: i64, about: &[i64]) -> Result<(), ApiError> {
        for about in about {
            self.0.execute(
                "DELETE FROM session_news WHERE session = ?1 AND about = ?2",
                (session, about),
            )?;
        }
        Ok(())
    }
}

fn session(r: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        seq: r.get(0)?,
        fid: r.get(1)?,
        session_id: r.get(2)?,
        public_key: r.get(3)?,
    })
}
