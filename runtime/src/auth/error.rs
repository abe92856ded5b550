//! What goes wrong in auth.

use std::fmt;

/// What kind of auth failure, to decide what the caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The token is malformed, badly signed, or for another issuer.
    InvalidToken,
    /// The token was good once and has expired.
    Expired,
    /// The rules deny the access.
    Forbidden,
    /// Keys, rules or flags are unusable.
    Config,
    /// The backend cannot do this (noop cannot mint tokens).
    Unsupported,
}

/// An auth error: what happened, and what to do about it.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn invalid_token(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidToken, message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
