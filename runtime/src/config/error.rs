//! Config errors: what failed, and whether trying again may help.

use crate::BoxError;

crate::error_shape::error_type! {
    /// A config error. `Display` says what happened and, where it helps, what to do.
    pub
}

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing is set at the path, or a config file does not exist.
    NotFound,
    /// The value at the path cannot be read as the type asked for.
    WrongType,
    /// A source holds content that cannot be parsed (bad JSON, YAML or TOML).
    InvalidData,
    /// A bad argument: an unknown file format, a value that cannot be serialized.
    InvalidInput,
    /// A source cannot be reached or read (etcd down, a file without permission).
    Unavailable,
    /// The [`Config`](super::Config) a watcher followed is gone.
    Closed,
}

impl Error {
    /// Nothing at `path`.
    pub(crate) fn not_found(path: &str) -> Error {
        Error::new(
            ErrorKind::NotFound,
            format!(
                "config path {path:?} not found; set it in a source or use get_or for a default"
            ),
        )
    }

    /// The value at `path` is not a `T`.
    pub(crate) fn wrong_type<T>(path: &str, cause: impl std::fmt::Display) -> Error {
        let expected = std::any::type_name::<T>();
        Error::new(
            ErrorKind::WrongType,
            format!("config path {path:?} cannot be read as {expected}: {cause}"),
        )
    }

    /// `source` holds content that does not parse.
    pub(crate) fn invalid_data(source: &str, cause: impl Into<BoxError>) -> Error {
        let cause = cause.into();
        Error::new(
            ErrorKind::InvalidData,
            format!("cannot parse {source}: {cause}; fix it (while running, the last good config stays in use)"),
        )
        .with_source(cause)
    }

    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }
}
