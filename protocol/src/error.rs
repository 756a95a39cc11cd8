//! The protocol crate's one error type: bytes, identifiers or certificates that do not have the
//! form the contract defines.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    // Identifier strings (`0xHHHH`, `MAJOR.MINOR`).
    #[error("`{0}` is not a 16-bit identifier written as 0xHHHH")]
    NotCodePoint(String),
    #[error("`{0}` is not a protocol version written as MAJOR.MINOR")]
    NotVersion(String),
    // Wire structures (RFC 9420 messages).
    #[error("message ends early while reading {0}")]
    Truncated(&'static str),
    #[error("invalid variable-length integer prefix while reading {0}")]
    InvalidVarint(&'static str),
    #[error("unknown sender type {0}")]
    UnknownSenderType(u8),
    #[error("wire format {0} is not the expected one")]
    NotPublicMessage(u16),
    #[error("protocol version {0} is not mls10")]
    UnsupportedVersion(u16),
    // ID-Certs and ID-CSRs.
    #[error("not a PEM or DER encoded {0}")]
    Encoding(&'static str),
    #[error("the certificate signing request's signature or structure is invalid: {0}")]
    InvalidCsr(String),
    #[error("the certificate signing request's signature or structure is invalid: it requests CA true or keyCertSign, which an actor certificate must not have")]
    RequestsCa,
    #[error("the pDN lacks the {0} attribute")]
    MissingAttribute(&'static str),
    #[error("the pDN's {0} attribute is invalid: {1}")]
    InvalidAttribute(&'static str, String),
    #[error("domain `{0}` is unusable as pDN domain components: {1}")]
    InvalidDomain(String, &'static str),
    #[error("session id must be 1-32 IA5 characters")]
    InvalidSessionId,
    #[error("the key is not an Ed25519 key")]
    NotEd25519,
    #[error("the certificate signature does not verify against the issuer key")]
    BadSignature,
    #[error("certificate generation failed: {0}")]
    Generation(String),
}
