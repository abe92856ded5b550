//! Registry errors: what failed, and whether trying again may help.

crate::error_shape::error_type! {
    /// A registry error. `Display` says what happened and, where it helps, what to do.
    pub
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
    pub(crate) fn not_found(service: &str, registry: &str) -> Error {
        Error::new(
            ErrorKind::NotFound,
            format!("service {service} not found in the {registry} registry"),
        )
    }

    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }
}
