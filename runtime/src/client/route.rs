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
    /// Hedge this call so, instead of the method's policy.
    pub(crate) hedging: Option<super::retry::Hedging>,
}

/// When the call as a whole must be done; retries rewrite `grpc-timeout` from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallDeadline(pub(crate) Instant);

/// The nodes a call has tried, so a retry goes elsewhere. Attempts of one call share it.
///
/// It keeps a hash of each address, not the address: every attempt records its node, and this
/// way recording allocates nothing. It remembers the last [`REMEMBERED`] nodes, plenty for a
/// retry to avoid; a hash collision only means a node is avoided that need not be.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tried(Arc<Mutex<Attempted>>);

/// How many tried nodes a call remembers.
const REMEMBERED: usize = 8;

#[derive(Debug, Default)]
struct Attempted {
    /// Hashes of the addresses, in a ring.
    nodes: [u64; REMEMBERED],
    /// Attempts made; the ring holds the last `REMEMBERED`.
    count: usize,
}

impl Tried {
    fn attempted(&self) -> MutexGuard<'_, Attempted> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn push(&self, address: &str) {
        let mut attempted = self.attempted();
        let slot = attempted.count % REMEMBERED;
        attempted.nodes[slot] = hash(address);
        attempted.count += 1;
    }

    pub(crate) fn contains(&self, address: &str) -> bool {
        let attempted = self.attempted();
        let remembered = attempted.count.min(REMEMBERED);
        attempted.nodes[..remembered].contains(&hash(address))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.attempted().count == 0
    }

    /// Attempts made so far.
    pub(crate) fn len(&self) -> usize {
        self.attempted().count
    }
}

fn hash(address: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    address.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tried_nodes_are_remembered_and_counted() {
        let tried = Tried::default();
        assert!(tried.is_empty());
        tried.push("10.0.0.1:80");
        tried.push("10.0.0.2:80");
        assert!(tried.contains("10.0.0.1:80") && tried.contains("10.0.0.2:80"));
        assert!(!tried.contains("10.0.0.3:80"));
        assert_eq!(tried.len(), 2);
        for n in 0..REMEMBERED {
            tried.push(&format!("10.0.1.{n}:80"));
        }
        assert_eq!(tried.len(), REMEMBERED + 2);
        assert!(
            !tried.contains("10.0.0.1:80"),
            "only the last ones are kept"
        );
        assert!(tried.contains("10.0.1.0:80"));
    }
}
