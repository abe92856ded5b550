//! Why the server could not be set up: an option it cannot use, or a generated service whose
//! embedded descriptors it cannot serve.

crate::error_shape::error_type! {
    /// A server setup error. A [`Service`](crate::Service) reports it as a
    /// [`service::Error`](crate::service::Error) of kind `Config`.
    pub(crate)
}

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An option, or a service's embedded descriptors, cannot be served.
    Config,
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    /// Whether trying again later may succeed: never, the same setup fails the same way.
    pub fn is_temporary(&self) -> bool {
        false
    }

    /// Its kind, message and cause, for the service's error to carry on.
    pub(crate) fn into_parts(self) -> (ErrorKind, String, Option<crate::BoxError>) {
        (self.kind, self.message, self.source)
    }
}
