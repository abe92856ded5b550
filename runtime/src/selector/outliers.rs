//! Outlier ejection: a node whose connections keep failing is left out for a cool-down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// When a node is ejected, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ejection {
    /// Consecutive connection failures that eject a node.
    pub(crate) failures: u32,
    /// How long an ejected node is left out.
    pub(crate) cool_down: Duration,
}

impl Default for Ejection {
    fn default() -> Self {
        Ejection {
            failures: 3,
            cool_down: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default)]
struct Health {
    consecutive_failures: u32,
    ejected_until: Option<Instant>,
}

/// Connection health of every node called, by address.
#[derive(Debug, Default)]
pub(crate) struct Outliers {
    rules: Ejection,
    nodes: Mutex<HashMap<String, Health>>,
    /// Whether any node has failed since all were last healthy: lets the common case skip
    /// the lock.
    any_failed: AtomicBool,
}

impl Outliers {
    pub(crate) fn new(rules: Ejection) -> Outliers {
        Outliers {
            rules,
            nodes: Mutex::new(HashMap::new()),
            any_failed: AtomicBool::new(false),
        }
    }

    fn nodes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Health>> {
        self.nodes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the node at `address` is ejected now.
    pub(crate) fn is_ejected(&self, address: &str) -> bool {
        if !self.any_failed.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        self.nodes()
            .get(address)
            .and_then(|health| health.ejected_until)
            .is_some_and(|until| until > now)
    }

    /// Whether any node might be ejected: lets callers skip the per-node checks.
    pub(crate) fn any_ejected(&self) -> bool {
        self.any_failed.load(Ordering::Relaxed)
    }

    /// A connection to `address` failed.
    pub(crate) fn failed(&self, address: &str) {
        let mut nodes = self.nodes();
        self.any_failed.store(true, Ordering::Relaxed);
        let health = nodes.entry(address.to_owned()).or_default();
        health.consecutive_failures += 1;
        if health.consecutive_failures >= self.rules.failures {
            health.ejected_until = Some(Instant::now() + self.rules.cool_down);
            health.consecutive_failures = 0;
            tracing::info!(node = address, cool_down = ?self.rules.cool_down, "ejecting a node whose connections keep failing");
        }
    }

    /// A call to `address` got through.
    pub(crate) fn succeeded(&self, address: &str) {
        if !self.any_failed.load(Ordering::Relaxed) {
            return;
        }
        let mut nodes = self.nodes();
        nodes.remove(address);
        if nodes.is_empty() {
            self.any_failed.store(false, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn consecutive_failures_eject_until_the_cool_down_ends() {
        let outliers = Outliers::new(Ejection {
            failures: 2,
            cool_down: Duration::from_millis(50),
        });
        outliers.failed("a");
        assert!(!outliers.is_ejected("a"));
        outliers.succeeded("a");
        outliers.failed("a");
        assert!(
            !outliers.is_ejected("a"),
            "a success in between resets the count"
        );
        outliers.failed("a");
        assert!(outliers.is_ejected("a"));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(!outliers.is_ejected("a"));
    }
}
