//! Registry errors: what failed, and whether trying again may help.

use std::fmt;

use crate::BoxError;

/// A registry error. `Display` says what happened and, where it helps, what to do.
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
    /// No such service is registered.
    NotFound,
    /// The registry cannot be reached.
    Unavailable,
    /// The registry holds data that cannot be read.
    InvalidData,
    /// The registry is misconfigured (bad URI, address, option).
    Config,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn not_found(service: &str, registry: &str) -> Error {
        Error::new(
            ErrorKind::NotFound,
            format!("service {service} not found in the {registry} registry"),
        )
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
