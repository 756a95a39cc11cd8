-- Actors registered through the p2mls registration route.
CREATE TABLE actors (
    local_name    TEXT PRIMARY KEY,
    fid           TEXT NOT NULL UNIQUE,
    password      TEXT NOT NULL,
    account_token TEXT NOT NULL UNIQUE
);

-- One row per ID-Cert issued to an actor session; the token authorises the MLS API.
CREATE TABLE sessions (
    token       TEXT PRIMARY KEY,
    fid         TEXT NOT NULL REFERENCES actors(fid),
    session_id  TEXT NOT NULL,
    public_key  BLOB NOT NULL,
    cert_der    BLOB NOT NULL,
    serial      BLOB NOT NULL UNIQUE,
    UNIQUE (fid, session_id)
);

CREATE TABLE keypackages (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    fid          TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    suite        INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    extensions   TEXT NOT NULL,
    last_resort  INTEGER NOT NULL,
    json         TEXT NOT NULL
);
CREATE INDEX keypackages_by_owner ON keypackages (fid, session_id, last_resort, seq);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    suite       INTEGER NOT NULL,
    epoch       INTEGER NOT NULL,
    public_key  TEXT NOT NULL
);

CREATE TABLE members (
    group_id    TEXT NOT NULL REFERENCES groups(id),
    fid         TEXT NOT NULL,
    role        TEXT NOT NULL,
    keypackage  TEXT NOT NULL,
    leaf_index  INTEGER NOT NULL,
    PRIMARY KEY (group_id, fid)
);

CREATE TABLE proposals (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id    TEXT NOT NULL REFERENCES groups(id),
    epoch       INTEGER NOT NULL,
    json        TEXT NOT NULL,
    committed   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE commits (
    group_id    TEXT NOT NULL REFERENCES groups(id),
    epoch       INTEGER NOT NULL,
    json        TEXT NOT NULL,
    PRIMARY KEY (group_id, epoch)
);

CREATE TABLE welcomes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id    TEXT NOT NULL REFERENCES groups(id),
    fid         TEXT NOT NULL,
    json        TEXT NOT NULL
);

-- The home server's Ed25519 identity key seed, created on first start.
CREATE TABLE server_key (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seed  BLOB NOT NULL
);
