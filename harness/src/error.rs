//! The harness's one error type: what stopped an operation before any verdict could be given.
//! A check turns it into its finding (`Finding`), which keeps a harness fault apart from a
//! target's failure.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// The command line, or a file it names, is wrong (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// A configuration file (target config, expectations, CA certificates) cannot be used.
    #[error("{0}")]
    Config(String),
    /// The run's actors could not be obtained (registration, the static list, the command).
    #[error("{0}")]
    Actors(String),
    /// Connecting, sending or reading failed (HTTP, gateway, TLS): the target's failure.
    #[error("{0}")]
    Transport(String),
    /// The target kept answering 429 (or 503 with Retry-After) past the retry budget: nothing can
    /// be judged, and it is not the target's fault either.
    #[error("rate-limited past the budget: {0}")]
    RateLimited(String),
    /// Something the target sent (a certificate, an MLS message) cannot be read.
    #[error("{0}")]
    Malformed(String),
    /// The harness's own MLS engine could not build what a check sends (a harness fault).
    #[error("the harness's MLS engine failed: {0}")]
    Engine(String),
    /// The OpenAPI document cannot be used.
    #[error(transparent)]
    Spec(#[from] p2mls_openapi::SpecError),
}

impl Error {
    /// `map_err(Error::engine)` for errors of the MLS libraries while building.
    pub fn engine(e: impl std::fmt::Display) -> Self {
        Error::Engine(e.to_string())
    }

    /// `map_err(Error::malformed)` for errors while reading what the target sent.
    pub fn malformed(e: impl std::fmt::Display) -> Self {
        Error::Malformed(e.to_string())
    }
}

/// For call sites that report the error as text (findings, evidence).
impl From<Error> for String {
    fn from(e: Error) -> Self {
        e.to_string()
    }
}
