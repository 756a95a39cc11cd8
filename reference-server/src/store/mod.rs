//! SQLite storage. One connection behind a mutex, used from blocking tasks; every mutating
//! operation runs in one transaction that commits (with `synchronous = FULL`) before the handler
//! answers, so a 2xx means the write is durable.
//!
//! All SQL of the server lives in this module: handlers open a transaction with `Store::tx` and
//! call named queries on its `Tx`, one file per table family (`accounts`, `keypackages`,
//! `groups`, `relay`, `keymaterial`). JSON columns come back parsed.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::error::ApiError;

mod accounts;
mod groups;
mod keymaterial;
mod keypackages;
mod relay;
mod tx;

pub use accounts::{Account, IssuedCert, NewSession, OwedNews, Revoked, Session};
pub use groups::{GroupRow, MemberRow};
pub use keymaterial::KeyMaterial;
pub use keypackages::KeyPackageSummary;
pub use relay::MessageRow;
pub use tx::Tx;

/// Ordered schema migrations; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_relay.sql"),
    include_str!("../../migrations/0003_sessions.sql"),
    include_str!("../../migrations/0004_key_material.sql"),
];

/// Shared handle to the database.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// Test hook (`Store::write_behind`): answer before committing, commit this much later.
    write_behind: Option<std::time::Duration>,
}

impl Store {
    /// Opens (creating if needed) the database file, or an in-memory database for `None`.
    pub fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        let conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "foreign_keys", "ON")?;
        if path.is_some() {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrate(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            write_behind: None,
        })
    }

    /// Makes the store a write-behind one: each transaction's result is handed back before its
    /// commit, which follows `delay` later. Only for the durability test
    /// (`harness/tests/durability.rs`), to show that it notices a server acknowledging writes
    /// it has not committed; no flag or config key sets it.
    pub fn write_behind(mut self, delay: Option<std::time::Duration>) -> Self {
        self.write_behind = delay;
        self
    }

    /// Runs `f` inside one transaction on a blocking thread; commits when it returns Ok.
    pub async fn tx<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let conn = self.conn.clone();
        if let Some(delay) = self.write_behind {
            return write_behind(conn, delay, f).await;
        }
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means a panic mid-transaction; SQLite rolled it back, so the
            // connection itself is still consistent.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            let tx = guard.transaction().map_err(ApiError::storage)?;
            let value = f(&Tx(&tx))?;
            tx.commit().map_err(ApiError::storage)?;
            Ok(value)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("storage task failed: {e}")))?
    }
}

/// The write-behind test hook: the closure's result goes back at once, the commit follows.
async fn write_behind<T, F>(
    conn: Arc<Mutex<Connection>>,
    delay: std::time::Duration,
    f: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Tx<'_>) -> Result<T, ApiError> + Send + 'static,
{
    let (answer, answered) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
        let Ok(tx) = guard.transaction() else {
            let _ = answer.send(Err(ApiError::Internal("no transaction".into())));
            return;
        };
        match f(&Tx(&tx)) {
            Err(e) => {
                let _ = answer.send(Err(e));
            }
            Ok(value) => {
                let _ = answer.send(Ok(value));
                std::thread::sleep(delay);
                let _ = tx.commit();
            }
        }
    });
    answered
        .await
        .unwrap_or_else(|_| Err(ApiError::Internal("storage task ended".into())))
}

fn migrate(conn: &Connection) -> anyhow::Result<()> {
    let done: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            index + 1
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_database_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("p2mls-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("db.sqlite");
        let _ = std::fs::remove_file(&path);
        {
            let store = Store::open(Some(&path)).expect("open");
            let conn = store.conn.lock().expect("lock");
            conn.execute("INSERT INTO actors VALUES ('a', 'a@x', 'pw', 'tok')", [])
                .expect("insert");
        }
        let store = Store::open(Some(&path)).expect("reopen runs no migration twice");
        let conn = store.conn.lock().expect("lock");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM actors", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 1);
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn new_session<'a>(token: &'a str, session_id: &'a str, serial: &'a [u8]) -> NewSession<'a> {
        NewSession {
            token,
            fid: "a@x",
            session_id,
            public_key: b"key",
            cert_der: b"cert",
            serial,
        }
    }

    #[tokio::test]
    async fn sessions_are_revoked_owed_their_news_and_their_ids_reused() {
        let store = Store::open(None).expect("open");
        store
            .tx(|tx| {
                tx.insert_actor("a", "a@x", "pw", "account")?;
                let first = tx.insert_session(&new_session("t1", "s1", b"1"), false)?;
                let second = tx.insert_session(&new_session("t2", "s2", b"2"), false)?;
                // The first session is owed the news of the second, never the reverse.
                let owed = tx.owed_news(first)?.expect("active");
                assert_eq!(owed.iter().map(|n| n.about).collect::<Vec<_>>(), [second]);
                assert!(tx.owed_news(second)?.expect("active").is_empty());
                tx.news_delivered(first, &[second])?;
                assert!(tx.owed_news(first)?.expect("active").is_empty());
                // Revoked: the token stops working, the id is free, the certificate stays listed.
                let revoked = tx.revoke_session("a@x", "s1", 1_700_000_000, false)?;
                assert_eq!(revoked.map(|r| r.seq), Some(first));
                assert!(tx.session_by_token("t1", false)?.is_none());
                assert!(tx.session_by_token("t1", true)?.is_some());
                assert!(tx.owed_news(first)?.is_none());
                assert!(tx.revoke_session("a@x", "s1", 1, false)?.is_none());
                assert!(!tx.session_id_in_use("a@x", "s1", false)?);
                assert!(tx.session_id_in_use("a@x", "s1", true)?);
                let again = tx.insert_session(&new_session("t3", "s1", b"3"), false)?;
                assert!(tx.session_id_in_use("a@x", "s1", false)?);
                // The second session hears of the new one; the revoked first one does not.
                let owed = tx.owed_news(second)?.expect("active");
                assert_eq!(owed.iter().map(|n| n.about).collect::<Vec<_>>(), [again]);
                let listed: Vec<Option<i64>> = tx
                    .actor_certs("A@X", false)?
                    .iter()
                    .map(|c| c.revoked_at)
                    .collect();
                assert_eq!(listed, [Some(1_700_000_000), None, None]);
                Ok(())
            })
            .await
            .expect("transaction");
    }

    #[test]
    fn the_sessions_migration_keeps_every_session() {
        let conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "foreign_keys", "ON")
            .expect("pragma");
        for (index, sql) in MIGRATIONS.iter().take(2).enumerate() {
            conn.execute_batch(&format!(
                "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
                index + 1
            ))
            .expect("old migrations");
        }
        conn.execute_batch(
            "INSERT INTO actors VALUES ('a', 'a@x', 'pw', 'account');
             INSERT INTO sessions VALUES ('t1', 'a@x', 's1', x'01', x'02', x'03');
             INSERT INTO sessions VALUES ('t2', 'a@x', 's2', x'04', x'05', x'06');",
        )
        .expect("sessions of before");
        migrate(&conn).expect("migrates");
        let rows: Vec<(i64, String, Option<i64>)> = conn
            .prepare("SELECT seq, token, revoked_at FROM sessions ORDER BY seq")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows, [(1, "t1".into(), None), (2, "t2".into(), None)]);
    }
}
