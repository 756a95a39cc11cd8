//! Acknowledged writes survive a crash at the moment of the acknowledgement (issue 14, item 12).
//!
//! The reference server runs on a SQLite file (WAL). Right after each 2xx, the test copies the
//! database and its WAL, as a crash at that instant would leave them, opens the copy and looks
//! for the write: a registration and its session, an uploaded KeyPackage, the deletion of a
//! KeyPackage discovery handed out, a created group. A write-behind store (the test hook
//! `Config::write_behind`: answer first, commit later) must be caught.
//!
//! What this does not show: that the commit reached the disk. The copy reads the page cache, so
//! it stands for a process crash, not a power loss; `synchronous = FULL` (see
//! `reference-server/src/store/mod.rs`) is what makes the commit durable before the answer, and
//! simulating power loss would need a VFS that drops unsynced writes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use openmls::prelude::Ciphersuite;
use p2mls::clients::actors::{register, Actor};
use p2mls::clients::http::Http;
use p2mls::clients::mls::{key_package_json, KeyPackageOptions};
use p2mls_protocol::suites::SuiteRegistry;
use serde_json::Value;

const SECRET: &str = "durability-secret";

/// Copies the database and its WAL into a fresh directory and counts the rows `sql` selects.
fn count_in_copy(db: &Path, n: usize, sql: &str, param: &str) -> Result<i64, String> {
    let dir = db.with_file_name(format!("copy-{n}"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let copy = dir.join("p2mls.sqlite");
    std::fs::copy(db, &copy).map_err(|e| format!("copy db: {e}"))?;
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    if wal.exists() {
        std::fs::copy(&wal, dir.join("p2mls.sqlite-wal")).map_err(|e| format!("copy wal: {e}"))?;
    }
    let conn = rusqlite::Connection::open(&copy).map_err(|e| e.to_string())?;
    conn.query_row(sql, [param], |r| r.get(0))
        .map_err(|e| e.to_string())
}

struct Probe {
    db: PathBuf,
    copies: usize,
}

impl Probe {
    /// The write described by `what` must be in a copy taken now (`expected` rows).
    fn survives(
        &mut self,
        what: &str,
        sql: &str,
        param: &str,
        expected: i64,
    ) -> Result<(), String> {
        self.copies += 1;
        let found = count_in_copy(&self.db, self.copies, sql, param)?;
        if found == expected {
            Ok(())
        } else {
            Err(format!(
                "{what} is not in the copy taken at its acknowledgement ({found} rows, {expected} expected)"
            ))
        }
    }
}

fn key_package(actor: &Actor) -> Value {
    let bytes = actor
        .mls
        .key_package(
            Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
            &KeyPackageOptions::default(),
        )
        .expect("key package");
    key_package_json(&bytes, &SuiteRegistry::default()).expect("json")
}

async fn run(write_behind: Option<Duration>) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!(
        "p2mls-durability-{}-{}",
        std::process::id(),
        p2mls::random_hex(4)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let db = dir.join("p2mls.sqlite");
    let mut config = p2mls_reference_server::Config::ephemeral(SECRET);
    config.db = Some(db.clone());
    config.write_behind = write_behind;
    let server = p2mls_reference_server::spawn(config)
        .await
        .map_err(|e| e.to_string())?;
    let result = writes(&server.url(), Probe { db, copies: 0 }).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn writes(base: &str, mut probe: Probe) -> Result<(), String> {
    let http = Http::new(base, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let alice = register(&http, SECRET, "alice", "d0d0d0d0").await?;
    probe.survives(
        "alice's registration and session",
        "SELECT count(*) FROM sessions WHERE token = ?1",
        &alice.token,
        1,
    )?;
    let bob = register(&http, SECRET, "bob", "d0d0d0d0").await?;
    let client = reqwest::Client::new();

    let kp = key_package(&alice);
    let id = kp["id"].as_str().unwrap_or_default().to_owned();
    let resp = client
        .post(format!("{base}/.p2/mls/v1/keypackages"))
        .bearer_auth(&alice.token)
        .json(&vec![kp])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status() != 200 {
        return Err(format!("upload answered {}", resp.status()));
    }
    probe.survives(
        "the uploaded KeyPackage",
        "SELECT count(*) FROM keypackages WHERE id = ?1",
        &id,
        1,
    )?;

    let resp = client
        .get(format!(
            "{base}/.p2/mls/v1/keypackages/{}?ciphersuites=0x0001",
            alice.fid
        ))
        .bearer_auth(&bob.token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let found: Value = resp.json().await.map_err(|e| e.to_string())?;
    if found[0]["id"] != id.as_str() {
        return Err(format!("discovery answered {found}"));
    }
    probe.survives(
        "the deletion of the KeyPackage discovery handed out",
        "SELECT count(*) FROM keypackages WHERE id = ?1",
        &id,
        0,
    )?;

    let created: Value = client
        .post(format!("{base}/.p2/mls/v1/groups"))
        .bearer_auth(&alice.token)
        .json(&key_package(&alice))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let group = created["id"].as_str().ok_or("no group id")?.to_owned();
    probe.survives(
        "the created group",
        "SELECT count(*) FROM groups WHERE id = ?1",
        &group,
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_are_in_a_copy_taken_at_the_acknowledgement() {
    run(None).await.expect("every acknowledged write survives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_answers_before_it_commits_is_caught() {
    let err = run(Some(Duration::from_millis(400)))
        .await
        .expect_err("a write-behind store must be caught");
    assert!(err.contains("is not in the copy"), "{err}");
}
