-- Sessions are revoked, not deleted (core 6.1.4): the ID-Cert stays offered with the time it was
-- invalidated (core 6.1.3, 6.4.1), and its session id may be used again (core 6.1.1.3), so
-- (fid, session_id) is unique among active sessions only. `seq` numbers sessions in issue order.
CREATE TABLE sessions_v3 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    token       TEXT NOT NULL UNIQUE,
    fid         TEXT NOT NULL REFERENCES actors(fid),
    session_id  TEXT NOT NULL,
    public_key  BLOB NOT NULL,
    cert_der    BLOB NOT NULL,
    serial      BLOB NOT NULL UNIQUE,
    revoked_at  INTEGER
);
INSERT INTO sessions_v3 (seq, token, fid, session_id, public_key, cert_der, serial)
    SELECT rowid, token, fid, session_id, public_key, cert_der, serial FROM sessions ORDER BY rowid;
DROP TABLE sessions;
ALTER TABLE sessions_v3 RENAME TO sessions;
CREATE UNIQUE INDEX sessions_active_id ON sessions (fid, session_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_by_actor ON sessions (fid COLLATE NOCASE, seq);

-- New Session events (core 4.4) a session is owed: one row per (session, newer session of the same
-- actor) from the moment the newer one is issued until the event is sent to the session, live on
-- an identified connection, or when it identifies or resumes again.
CREATE TABLE session_news (
    session  INTEGER NOT NULL REFERENCES sessions(seq),
    about    INTEGER NOT NULL REFERENCES sessions(seq),
    PRIMARY KEY (session, about)
);
