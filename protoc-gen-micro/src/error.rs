//! The generator's error: a message for protoc's `error` field or a build script's panic.

use std::any::Any;
use std::fmt;

/// Why code could not be generated; `Display` says what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }

    /// Turns a panic caught inside prost-build into an error that says what to report.
    pub(crate) fn from_panic(panic: Box<dyn Any + Send>) -> Error {
        let detail = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown cause");
        Error::new(format!(
            "code generation failed: {detail}; check attribute and extern_path options, \
             and report a bug if they are valid"
        ))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
