//! Sync errors: what failed, and whether trying again may help.

use std::time::Duration;

use super::Fence;
use crate::BoxError;

crate::error_shape::error_type! {
    /// A sync error. `Display` says what happened and, where it helps, what to do.
    pub
}

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The lock (or leadership) stayed taken for the whole wait (go-micro's `ErrLockTimeout`).
    LockTimeout,
    /// `unlock` of an id this node does not hold.
    NotHeld,
    /// An id or TTL that cannot be used.
    InvalidInput,
    /// The backend cannot be reached.
    Unavailable,
    /// The backend is misconfigured (bad URI, address, missing feature).
    Config,
    /// A write carried a [`Fence`] lower than one the resource already took: the lock or
    /// leadership it came from has changed hands since.
    StaleFence,
}

impl Error {
    /// `id` was still taken when `wait` ran out.
    pub fn lock_timeout(id: &str, wait: Duration) -> Error {
        Error::new(
            ErrorKind::LockTimeout,
            format!(
                "lock timeout: `{id}` still held after {}; wait longer (LockOptions::wait) or \
                 find the holder",
                humantime::format_duration(wait)
            ),
        )
    }

    /// Another candidate still led `id` when `wait` ran out.
    pub fn leader_timeout(id: &str, wait: Duration) -> Error {
        Error::new(
            ErrorKind::LockTimeout,
            format!(
                "lock timeout: leadership of `{id}` still held by another candidate after {}",
                humantime::format_duration(wait)
            ),
        )
    }

    /// `unlock(id)` on a node that does not hold `id`.
    pub fn not_held(id: &str) -> Error {
        Error::new(
            ErrorKind::NotHeld,
            format!("not held: this node holds no lock `{id}` (expired, or never locked)"),
        )
    }

    /// An unusable id or TTL.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// A write with `fence` refused by a resource that took `highest` already.
    pub fn stale_fence(fence: Fence, highest: Fence) -> Error {
        Error::new(
            ErrorKind::StaleFence,
            format!(
                "stale fence: {fence} is lower than {highest}, the highest this resource took; \
                 the lock or leadership changed hands since (its holder was paused or cut off \
                 past its TTL): stop, and lock again before writing"
            ),
        )
    }

    /// The `backend` at `address` could not be reached.
    pub fn unavailable(backend: &str, address: &str, source: impl Into<BoxError>) -> Error {
        let source = source.into();
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "{backend} at {address} unreachable: {source}; start {backend} there or point \
                 the sync address at it"
            ),
        )
        .with_source(source)
    }

    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable | ErrorKind::LockTimeout)
    }

    /// A lock timeout reworded for a campaign for leader.
    pub(super) fn for_leader(self, id: &str, options: &super::LockOptions) -> Error {
        match (self.kind, options.wait) {
            (ErrorKind::LockTimeout, Some(wait)) => Error::leader_timeout(id, wait),
            _ => self,
        }
    }
}
