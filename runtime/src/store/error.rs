//! Store errors: what failed, and whether trying again may help.

use std::fmt;

use crate::BoxError;

/// A store error. `Display` says what happened and, where it helps, what to do.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<BoxError>,
}

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No record has the key (go-micro's `store.ErrNotFound`).
    NotFound,
    /// A key, database, table or TTL that cannot be used.
    InvalidInput,
    /// The backend cannot be reached.
    Unavailable,
    /// The backend holds data that cannot be read.
    InvalidData,
    /// The backend is misconfigured (bad URI, address, option).
    Config,
}
impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// No record `key` in `scope`.
    pub fn not_found(key: &str, scope: &str) -> Error {
        Error::new(
            ErrorKind::NotFound,
            format!("not found: no record {key:?} in {scope}"),
        )
    }

    /// The `backend` at `address` could not be reached.
    pub fn unavailable(backend: &str, address: &str, source: impl Into<BoxError>) -> Error {
        let source = source.into();
        Error::new(
            ErrorKind::Unavailable,
            format!("{backend} at {address} unavailable: {source}"),
        )
        .with_source(source)
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.source = Some(source.into());
        self
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}
