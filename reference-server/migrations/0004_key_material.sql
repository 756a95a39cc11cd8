-- Encrypted private key material (core 6.3), as uploaded: per actor and ID-Cert serial number
-- (8 bytes, big-endian: core beta.3 types serial numbers as uint64). The server never holds a
-- key it could decrypt.
CREATE TABLE key_material (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    fid         TEXT NOT NULL REFERENCES actors(fid),
    serial      BLOB NOT NULL,
    key_data    TEXT NOT NULL,
    algorithms  TEXT NOT NULL,
    UNIQUE (fid, serial)
);
