//! Store errors: what failed, and whether trying again may help.

use crate::BoxError;

crate::error_shape::error_type! {
    /// A store error. `Display` says what happened and, where it helps, what to do.
    pub
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

    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }
}
