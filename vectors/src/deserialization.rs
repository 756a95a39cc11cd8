//! `deserialization.json`: variable-length vector headers (RFC 9420 §2.1.2).
//!
//! Format: `[{ "vlbytes_header": hex, "length": integer }]`.
//!
//! Verification: decoding `vlbytes_header` gives `length`; re-encoding `length` gives the same
//! header bytes. The header is decoded twice: by our codec, and by openmls's `tls_codec`
//! (`VLBytes` over the header followed by `length` zero bytes), which must agree.

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _, VLBytes};
use serde::{Deserialize, Serialize};

use crate::codec::{Reader, Writer};
use crate::load::Hex;
use crate::verdict::{check_bytes, check_eq, Checked, Finding, OrFail};
use crate::{Backend, VectorFile};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub vlbytes_header: Hex,
    pub length: u64,
}

pub struct Deserialization;

/// Lengths whose content tls_codec is also asked to read (allocation stays small).
const CROSS_CHECK_LIMIT: u64 = 1 << 20;

impl VectorFile for Deserialization {
    const FILE: &'static str = "deserialization.json";
    const FIELDS: &'static [&'static str] = &["vlbytes_header", "length"];
    type Entry = Entry;

    fn verify<B: Backend>(e: &Entry, _provider: &B) -> Checked {
        let mut r = Reader::new(&e.vlbytes_header);
        let decoded = r.varint().or_fail("vlbytes_header")?;
        r.finish("vlbytes_header").or_fail("vlbytes_header")?;
        check_eq("length", e.length, u64::from(decoded))?;
        let mut w = Writer::new();
        w.varint(decoded as usize);
        check_bytes("vlbytes_header (re-encoded)", &e.vlbytes_header, &w.buf)?;
        let mut notes = Vec::new();
        if e.length <= CROSS_CHECK_LIMIT {
            let mut bytes = e.vlbytes_header.0.clone();
            bytes.resize(bytes.len() + e.length as usize, 0);
            let v = VLBytes::tls_deserialize_exact(&bytes).map_err(|err| {
                Finding::fail("vlbytes_header (tls_codec)", "decodable", err.to_string())
            })?;
            check_eq("length (tls_codec)", e.length, v.as_slice().len() as u64)?;
            let again = v.tls_serialize_detached().map_err(|err| {
                Finding::fail(
                    "vlbytes_header (tls_codec re-encode)",
                    "encodable",
                    err.to_string(),
                )
            })?;
            check_bytes("vlbytes (tls_codec re-encoded)", &bytes, &again)?;
        } else {
            notes.push(format!(
                "tls_codec cross-check skipped: length above {CROSS_CHECK_LIMIT} bytes"
            ));
        }
        Ok(notes)
    }
}
