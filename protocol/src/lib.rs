//! Definitions that the p2mls harness and the reference server agree on by contract.
//!
//! This crate holds route paths, the cipher-suite registry, the identifier-string encoding of the
//! interop profile, the polyproto ID-Cert format and small wire-level readers. It deliberately
//! holds no response types: the harness judges a target by the OpenAPI document and raw JSON,
//! never by structs shared with an implementation (a wrong field name would pass on both sides).

pub mod error;
pub mod gateway;
pub mod idcert;
pub mod identifiers;
pub mod routes;
pub mod suites;
pub mod wire;

pub use error::Error;
