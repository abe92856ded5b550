//! The shape the local error types share (registry, broker, events, store, sync, config,
//! service): a kind, a message that says what happened, and the underlying cause; and the one
//! wording of a backend whose feature is off.

/// Defines `Error` for the calling module's `ErrorKind`: `new` and `with_source` at `$vis`,
/// `kind()`, `Display` (the message) and `std::error::Error::source`. The module adds its own
/// constructors and `is_temporary`.
macro_rules! error_type {
    ($(#[$doc:meta])* $vis:vis) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct Error {
            kind: ErrorKind,
            message: String,
            source: Option<$crate::BoxError>,
        }

        impl Error {
            /// An error of `kind` saying `message`.
            $vis fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
                Error {
                    kind,
                    message: message.into(),
                    source: None,
                }
            }

            /// Attaches the underlying cause.
            $vis fn with_source(mut self, source: impl Into<$crate::BoxError>) -> Error {
                self.source = Some(source.into());
                self
            }

            /// What kind of problem this is.
            pub fn kind(&self) -> ErrorKind {
                self.kind
            }
        }

        impl std::fmt::Display for Error {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
    };
}

pub(crate) use error_type;

/// What a backend's error says when its feature is off: "the `etcd` registry is not built in;
/// enable micro's `registry-etcd` feature". One wording for every concern.
pub(crate) fn not_built(name: &str, kind: &str, feature: &str) -> String {
    format!("the `{name}` {kind} is not built in; enable micro's `{feature}` feature")
}

/// `err` and its sources, `outer: inner: innermost`, skipping a source whose text is already
/// said (hyper's "connection error" says little; the TLS alert under it says why).
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let detail = inner.to_string();
        if !text.contains(&detail) {
            text = format!("{text}: {detail}");
        }
        source = inner.source();
    }
    text
}
