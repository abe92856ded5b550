//! Why a service could not start or stop cleanly.

use crate::net::BindError;

crate::error_shape::error_type! {
    /// A service lifecycle error. `Display` says what happened and what to do about it.
    pub(crate)
}

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An option or flag has a value that cannot work.
    Config,
    /// The listen address cannot be used.
    Bind,
    /// The server failed while running.
    Serve,
    /// The service could not register with its registry.
    Registry,
    /// The service could not subscribe with its broker.
    Broker,
    /// A `before_start` or `after_start` hook failed.
    Hook,
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    /// Whether trying again later may succeed (an address in use may be freed, a registry
    /// come back).
    pub fn is_temporary(&self) -> bool {
        matches!(self.kind, ErrorKind::Bind | ErrorKind::Registry)
    }
}

impl From<BindError> for Error {
    fn from(err: BindError) -> Error {
        match err {
            BindError::Invalid(message) => Error::config(message),
            BindError::Io { message, source } => {
                Error::new(ErrorKind::Bind, message).with_source(source)
            }
        }
    }
}

impl From<crate::server::Error> for Error {
    fn from(err: crate::server::Error) -> Error {
        let (kind, message, source) = err.into_parts();
        let err = match kind {
            crate::server::ErrorKind::Config => Error::config(message),
        };
        match source {
            Some(source) => err.with_source(source),
            None => err,
        }
    }
}
