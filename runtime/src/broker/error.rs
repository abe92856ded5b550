//! Broker errors: what failed, and whether trying again may help.

use crate::BoxError;

crate::error_shape::error_type! {
    /// A broker error. `Display` says what happened and, where it helps, what to do.
    pub
}

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The broker (or a subscriber it delivers to) cannot be reached.
    Unavailable,
    /// A message was not delivered to every subscriber that should have had it.
    Undelivered,
    /// A message could not be encoded or decoded.
    InvalidMessage,
    /// The broker is misconfigured (bad URI, address, option).
    Config,
}

impl Error {
    /// The broker at `address` (named `broker`) could not be reached.
    pub fn unavailable(broker: &str, address: &str, source: impl Into<BoxError>) -> Error {
        let source = source.into();
        Error::new(
            ErrorKind::Unavailable,
            format!("{broker} broker at {address} unavailable: {source}"),
        )
        .with_source(source)
    }

    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable | ErrorKind::Undelivered)
    }
}
