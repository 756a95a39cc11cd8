//! The vectors crate's one error type: a vector file that cannot be read, bytes that do not
//! decode, a ratchet tree that is malformed.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    // Vector files and entries.
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}: not valid JSON: {message}")]
    Json { file: String, message: String },
    #[error("{file}: expected a JSON array of entries, found {found}")]
    NotAnArray { file: String, found: &'static str },
    #[error("{file}: entry {entry}, field `{field}`: {message}")]
    Entry {
        file: String,
        entry: usize,
        field: String,
        message: String,
    },
    // TLS-encoded bytes (RFC 9420 §2.1).
    #[error("unexpected end of data at byte {at} while reading {what}")]
    Truncated { at: usize, what: &'static str },
    #[error("invalid variable-length integer prefix at byte {at}")]
    BadVarint { at: usize },
    #[error("variable-length integer at byte {at} is not minimally encoded")]
    NonMinimalVarint { at: usize },
    #[error("invalid value {value} for {what} at byte {at}")]
    BadValue {
        at: usize,
        what: &'static str,
        value: u64,
    },
    #[error("{count} trailing bytes after {what}")]
    Trailing { count: usize, what: &'static str },
    // Ratchet trees.
    #[error("node {index}: a {found} node where a {expected} node belongs")]
    WrongNodeType {
        index: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("the tree has an even number of nodes ({0})")]
    EvenNodeCount(usize),
    #[error("the tree is empty or ends with a blank node")]
    BadTruncation,
    #[error("the tree is too large ({0} nodes)")]
    TooLarge(usize),
}
