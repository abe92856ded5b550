//! Connections per node: several HTTP/2 connections each (one connection's stream handling
//! becomes the bottleneck under load, hyperium/h2#531), closed when idle or when the node leaves
//! the registry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard, Weak};
use std::time::Duration;

use http::uri::Authority;

use super::connection::Connection;
use crate::Status;

/// A node's connections, used in turn.
#[derive(Debug)]
struct Node {
    connections: Vec<Connection>,
    next: AtomicUsize,
    /// Whether a call used the node since the last sweep.
    used: AtomicBool,
}

/// The connections of every node this client calls.
#[derive(Debug)]
pub(crate) struct Pool {
    size: usize,
    idle: Duration,
    nodes: RwLock<HashMap<String, Arc<Node>>>,
    sweeping: std::sync::Once,
}

impl Pool {
    /// `size` connections per node, closed after `idle` without calls.
    pub(crate) fn new(size: usize, idle: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            size: size.max(1),
            idle,
            nodes: RwLock::new(HashMap::new()),
            sweeping: std::sync::Once::new(),
        })
    }

    fn nodes(&self) -> RwLockWriteGuard<'_, HashMap<String, Arc<Node>>> {
        self.nodes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A connection to the node at `address` (`host:port`), opened on first use.
    pub(crate) fn connection(self: &Arc<Self>, address: &str) -> Result<Connection, Status> {
        let nodes = self
            .nodes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let known = nodes.get(address).cloned();
        drop(nodes);
        let node = match known {
            Some(node) => node,
            None => self.add(address)?,
        };
        if !node.used.load(Ordering::Relaxed) {
            node.used.store(true, Ordering::Relaxed);
        }
        let index = node.next.fetch_add(1, Ordering::Relaxed) % node.connections.len();
        Ok(node.connections[index].clone())
    }

    fn add(self: &Arc<Self>, address: &str) -> Result<Arc<Node>, Status> {
        let authority: Authority = address.parse().map_err(|_| {
            Status::invalid_argument(format!("cannot call `{address}`: expected host:port"))
        })?;
        self.sweeping.call_once(|| {
            tokio::spawn(sweep(Arc::downgrade(self)));
        });
        let node = Arc::new(Node {
            connections: (0..self.size)
                .map(|_| Connection::new(authority.clone()))
                .collect(),
            next: AtomicUsize::new(0),
            used: AtomicBool::new(true),
        });
        Ok(self
            .nodes()
            .entry(address.to_owned())
            .or_insert(node)
            .clone())
    }

    /// Closes the connections to a node that left the registry.
    pub(crate) fn remove(&self, address: &str) {
        if self.nodes().remove(address).is_some() {
            tracing::debug!(
                node = address,
                "closing the connections to a node that left the registry"
            );
        }
    }

    /// How many nodes have connections, for tests.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.nodes.read().unwrap().len()
    }
}

/// Closes the connections of nodes not called for the idle time (within twice that).
async fn sweep(pool: Weak<Pool>) {
    let interval = match pool.upgrade() {
        Some(pool) => pool.idle.max(Duration::from_millis(10)),
        None => return,
    };
    loop {
        tokio::time::sleep(interval).await;
        let Some(pool) = pool.upgrade() else { return };
        // A node unused for a whole interval has been idle at least that long.
        pool.nodes()
            .retain(|_, node| node.used.swap(false, Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_nodes_are_closed_and_removed_nodes_forgotten() {
        let pool = Pool::new(2, Duration::from_millis(40));
        pool.connection("127.0.0.1:1").unwrap();
        pool.connection("127.0.0.1:2").unwrap();
        assert_eq!(pool.len(), 2);
        pool.remove("127.0.0.1:1");
        assert_eq!(pool.len(), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(pool.len(), 0);
    }

    #[tokio::test]
    async fn a_bad_address_is_an_error() {
        let err = Pool::new(1, Duration::from_secs(1))
            .connection("not an address")
            .unwrap_err();
        assert!(err.message().contains("expected host:port"));
    }
}
