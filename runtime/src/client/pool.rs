//! Connections per node: up to several HTTP/2 connections each, the next one opened only when
//! those open are busy (one connection's stream handling becomes the bottleneck under load,
//! hyperium/h2#531, while on a lightly loaded or small machine one connection batches best);
//! closed when idle or when the node leaves the registry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard, Weak};
use std::time::Duration;

use http::uri::Authority;

use super::connection::{Connection, Tls};
use crate::Status;

/// A node's connections, each connecting on first use.
#[derive(Debug)]
struct Node {
    connections: Vec<Connection>,
    /// Whether a call used the node since the last sweep.
    used: AtomicBool,
}

/// The connections of every node this client calls.
#[derive(Debug)]
pub(crate) struct Pool {
    size: usize,
    streams_per_connection: usize,
    idle: Duration,
    tls: Tls,
    connect_timeout: Duration,
    nodes: RwLock<HashMap<String, Arc<Node>>>,
    sweeping: std::sync::Once,
}

impl Pool {
    /// Up to `size` connections per node, the next one used once each open one carries
    /// `streams_per_connection` calls; closed after `idle` without calls; each given
    /// `connect_timeout` to connect.
    pub(crate) fn new(
        size: usize,
        streams_per_connection: usize,
        idle: Duration,
        tls: Tls,
        connect_timeout: Duration,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            size: size.max(1),
            streams_per_connection: streams_per_connection.max(1),
            idle,
            tls,
            connect_timeout,
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
        Ok(self.least_busy(&node.connections).clone())
    }

    /// The first connection with room for another call, else the one with the fewest calls:
    /// calls share one connection until it is busy.
    fn least_busy<'a>(&self, connections: &'a [Connection]) -> &'a Connection {
        let mut least = &connections[0];
        let mut least_streams = usize::MAX;
        for connection in connections {
            let streams = connection.streams();
            if streams < self.streams_per_connection {
                return connection;
            }
            if streams < least_streams {
                (least, least_streams) = (connection, streams);
            }
        }
        least
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
                .map(|_| Connection::new(authority.clone(), &self.tls, self.connect_timeout))
                .collect(),
            used: AtomicBool::new(true),
        });
        Ok(self
            .nodes()
            .entry(address.to_owned())
            .or_insert(node)
            .clone())
    }

    /// Calls in flight to the node at `address`, over all its connections.
    pub(crate) fn in_flight(&self, address: &str) -> usize {
        let nodes = self
            .nodes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        nodes.get(address).map_or(0, |node| {
            node.connections.iter().map(Connection::streams).sum()
        })
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
    use crate::client::connection::DEFAULT_CONNECT_TIMEOUT;

    #[tokio::test]
    async fn idle_nodes_are_closed_and_removed_nodes_forgotten() {
        let pool = Pool::new(
            2,
            100,
            Duration::from_millis(40),
            Tls::default(),
            DEFAULT_CONNECT_TIMEOUT,
        );
        pool.connection("127.0.0.1:1").unwrap();
        pool.connection("127.0.0.1:2").unwrap();
        assert_eq!(pool.len(), 2);
        pool.remove("127.0.0.1:1");
        assert_eq!(pool.len(), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(pool.len(), 0);
    }

    #[tokio::test]
    async fn a_connection_is_added_only_when_the_open_ones_are_busy() {
        let pool = Pool::new(
            3,
            2,
            Duration::from_secs(60),
            Tls::default(),
            DEFAULT_CONNECT_TIMEOUT,
        );
        let first = pool.connection("127.0.0.1:1").unwrap();
        let _calls = [first.start_stream(), first.start_stream()];
        let second = pool.connection("127.0.0.1:1").unwrap();
        assert!(!first.is(&second), "a busy connection gets company");
        let _more = [
            second.start_stream(),
            second.start_stream(),
            second.start_stream(),
        ];
        let third = pool.connection("127.0.0.1:1").unwrap();
        let _last = [third.start_stream(), third.start_stream()];
        assert_eq!(
            pool.in_flight("127.0.0.1:1"),
            7,
            "summed over the node's connections"
        );
        assert_eq!(pool.in_flight("127.0.0.1:2"), 0);
        let least = pool.connection("127.0.0.1:1").unwrap();
        assert!(least.is(&first), "all busy: the least busy one");
        drop(_calls);
        let again = pool.connection("127.0.0.1:1").unwrap();
        assert!(again.is(&first), "the first one again once idle");
    }

    #[tokio::test]
    async fn a_bad_address_is_an_error() {
        let err = Pool::new(
            1,
            100,
            Duration::from_secs(1),
            Tls::default(),
            DEFAULT_CONNECT_TIMEOUT,
        )
        .connection("not an address")
        .unwrap_err();
        assert!(err.message().contains("expected host:port"));
    }
}
