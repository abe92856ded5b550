//! The service's entry in the registry: registered at start (with retries), refreshed on an
//! interval with a TTL, removed at stop.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Error, ErrorKind, Options};
use crate::backoff;
use crate::registry::{self, Endpoint, Node, Registry};
use crate::server::Handler;
use crate::transcode::endpoint_values;

/// Attempts to register at start before giving up, as in go-micro.
const REGISTER_ATTEMPTS: u32 = 3;

/// A running service's registration.
#[derive(Debug)]
pub(crate) struct Registration {
    registry: Arc<dyn Registry>,
    entry: registry::Service,
    ttl: Duration,
    interval: Duration,
    heartbeat: Option<JoinHandle<()>>,
}

impl Registration {
    /// The entry for this node: name, version, endpoints, and a node at `address`.
    pub(crate) fn new(
        registry: Arc<dyn Registry>,
        options: &Options,
        handlers: &[Arc<dyn Handler>],
        address: String,
    ) -> Registration {
        let mut metadata = options.metadata.clone();
        let broker = options.broker_name();
        for (key, value) in [
            ("protocol", "grpc"),
            ("server", "grpc"),
            ("transport", "grpc"),
            ("broker", broker.as_str()),
            ("registry", registry.name()),
        ] {
            metadata.insert(key.to_owned(), value.to_owned());
        }
        let node = Node {
            id: format!("{}-{}", options.name, options.id),
            address,
            metadata,
        };
        let entry = registry::Service {
            name: options.name.clone(),
            version: options.version.clone(),
            metadata: BTreeMap::new(),
            endpoints: endpoints(handlers)
                .into_iter()
                .chain(options.subscriber_endpoints.iter().cloned())
                .collect(),
            nodes: vec![node],
        };
        Registration {
            registry,
            entry,
            ttl: options.register_ttl,
            interval: options.register_interval,
            heartbeat: None,
        }
    }

    /// What is registered.
    pub(crate) fn entry(&self) -> &registry::Service {
        &self.entry
    }

    /// Registers, retrying with backoff, then keeps the registration fresh in the background.
    pub(crate) async fn start(&mut self) -> Result<(), Error> {
        let mut attempt = 1;
        loop {
            match self.registry.register(&self.entry, Some(self.ttl)).await {
                Ok(()) => break,
                Err(err) if attempt < REGISTER_ATTEMPTS => {
                    tracing::warn!(registry = self.registry.name(), attempt, error = %err, "cannot register; retrying");
                    tokio::time::sleep(backoff::go_micro(attempt)).await;
                    attempt += 1;
                }
                Err(err) => {
                    return Err(Error::new(
                        ErrorKind::Registry,
                        format!(
                            "cannot register {} with the {} registry after {REGISTER_ATTEMPTS} \
                             attempts: {err}",
                            self.entry.name,
                            self.registry.name()
                        ),
                    )
                    .with_source(err));
                }
            }
        }
        let node = &self.entry.nodes[0];
        tracing::info!(registry = self.registry.name(), node = %node.id, address = %node.address, "registered");
        self.heartbeat = Some(tokio::spawn(heartbeat(
            self.registry.clone(),
            self.entry.clone(),
            self.ttl,
            self.interval,
        )));
        Ok(())
    }

    /// Stops the heartbeat and removes the node from the registry.
    pub(crate) async fn stop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
        match self.registry.deregister(&self.entry).await {
            Ok(()) => {
                tracing::info!(registry = self.registry.name(), node = %self.entry.nodes[0].id, "deregistered")
            }
            Err(err) => {
                tracing::warn!(registry = self.registry.name(), error = %err, "cannot deregister")
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

/// Registers again every `interval` (go-micro's register interval) so the TTL never runs out;
/// a backend that lost the registration (etcd restarted, lease gone) gets it back here.
async fn heartbeat(
    registry: Arc<dyn Registry>,
    entry: registry::Service,
    ttl: Duration,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    // A slow registry delays the next refresh rather than causing a burst of them.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if let Err(err) = registry.register(&entry, Some(ttl)).await {
            tracing::warn!(registry = registry.name(), error = %err, "cannot refresh the registration; retrying next interval");
        }
    }
}

/// The endpoints of every handler, `Svc.Method`, streaming ones marked `stream=true`.
fn endpoints(handlers: &[Arc<dyn Handler>]) -> Vec<Endpoint> {
    handlers
        .iter()
        .flat_map(|handler| {
            let info = handler.info();
            info.methods.iter().map(move |method| {
                let (request, response) = endpoint_values(info, method);
                let mut metadata = BTreeMap::new();
                if method.kind != crate::server::RpcKind::Unary {
                    metadata.insert("stream".to_owned(), "true".to_owned());
                }
                Endpoint {
                    name: method.endpoint.to_owned(),
                    request,
                    response,
                    metadata,
                }
            })
        })
        .collect()
}
