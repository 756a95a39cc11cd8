-- Application messages relayed through the DS (PROFILE.message-relay), in acceptance order.
CREATE TABLE messages (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id    TEXT NOT NULL REFERENCES groups(id),
    epoch       INTEGER NOT NULL,
    sender      TEXT NOT NULL,
    mls_message TEXT NOT NULL
);
CREATE INDEX messages_by_group ON messages (group_id, seq);
CREATE INDEX welcomes_by_actor ON welcomes (fid, seq);
