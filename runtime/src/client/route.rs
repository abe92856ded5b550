//! What a request carries down the client stack (in its extensions) besides the message:
//! per-call routing overrides, the deadline, and the nodes already tried.

use std::sync::{Arc, Mutex, MutexGuard};

use http::uri::Authority;
use tokio::time::Instant;

use crate::selector::Strategy;

/// Per-call routing set with [`Call`](super::Call) options; absent when the call sets none.
#[derive(Debug, Clone, Default)]
pub(crate) struct Route {
    /// Call this address instead of resolving the service.
    pub(crate) address: Option<Authority>,
    /// Pick the node this way instead of the client's strategy.
    pub(crate) strategy: Option<Strategy>,
    /// Retry at most this many times instead of the client's setting.
    pub(crate) retries: Option<u32>,
}

/// When the call as a whole must be done; retries rewrite `grpc-timeout` from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallDeadline(pub(crate) Instant);

/// The node addresses a call has tried, oldest first, so a retry goes elsewhere. Attempts of
/// one call share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tried(Arc<Mutex<Vec<String>>>);

impl Tried {
    fn addresses(&self) -> MutexGuard<'_, Vec<String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn push(&self, address: &str) {
        self.addresses().push(address.to_owned());
    }

    pub(crate) fn contains(&self, address: &str) -> bool {
        self.addresses().iter().any(|tried| tried == address)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.addresses().is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.addresses().len()
    }
}
