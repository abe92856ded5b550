//! Event streaming errors: what failed, and whether trying again may help.

use crate::BoxError;

crate::error_shape::error_type! {
    /// An events error. `Display` says what happened and, where it helps, what to do.
    pub
}

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The backend cannot be reached.
    Unavailable,
    /// An event could not be encoded or decoded.
    InvalidEvent,
    /// No such event (or it was already acknowledged).
    NotFound,
    /// The backend is misconfigured (bad URI, address, option).
    Config,
}
impl Error {
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
