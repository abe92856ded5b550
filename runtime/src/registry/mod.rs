//! Service discovery: where the nodes of a service are.
//!
//! A [`Service`] registers its node when it starts, refreshes it every register interval with a
//! TTL, and removes it when it stops; clients find nodes with [`Registry::get_service`] (through a
//! [`Cache`]). Backends are wire-compatible with go-micro's, so Go and Rust services share them:
//!
//! | backend | URI | notes |
//! |---|---|---|
//! | mDNS (default) | `mdns://` | zero configuration, one network segment |
//! | etcd | `etcd://host:2379[,host:2379…]` | feature `registry-etcd` |
//! | memory | `memory://` | one process; for tests and embedding |
//!
//! ```
//! # async fn demo() -> Result<(), micro::registry::Error> {
//! use micro::registry::{self, Node, Registry, Service};
//!
//! let registry = registry::from_uri("memory://")?;
//! let service = Service {
//!     name: "greeter".into(),
//!     version: "1.0.0".into(),
//!     nodes: vec![Node { id: "greeter-1".into(), address: "10.0.0.7:8080".into(), ..Node::default() }],
//!     ..Service::default()
//! };
//! registry.register(&service, None).await?;
//! let found = registry.get_service("greeter").await?;
//! assert_eq!(found[0].nodes[0].address, "10.0.0.7:8080");
//! # Ok(())
//! # }
//! ```

mod cache;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
#[cfg(feature = "registry-etcd")]
mod etcd;
pub(crate) mod mdns;
mod memory;
mod types;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

pub use cache::Cache;
pub use error::{Error, ErrorKind};
#[cfg(feature = "registry-etcd")]
pub use etcd::{EtcdOptions, EtcdRegistry};
pub use mdns::MdnsRegistry;
pub use memory::MemoryRegistry;
pub use types::{Endpoint, Node, Service, Value};

pub use crate::BoxFuture;

/// Where services find each other. Hold one as `Arc<dyn Registry>`.
pub trait Registry: Send + Sync + fmt::Debug + 'static {
    /// Adds or refreshes the nodes of `service`. With a `ttl` they expire unless registered again
    /// within it.
    fn register<'a>(
        &'a self,
        service: &'a Service,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Removes the nodes of `service`.
    fn deregister<'a>(&'a self, service: &'a Service) -> BoxFuture<'a, Result<(), Error>>;

    /// Every version of the service `name` with its nodes; [`ErrorKind::NotFound`] if none.
    fn get_service<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Service>, Error>>;

    /// Every registered service (one entry per name and version).
    fn list_services(&self) -> BoxFuture<'_, Result<Vec<Service>, Error>>;

    /// Changes to one service, or to all when `service` is `None`, as they happen.
    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, Error>>;

    /// The backend's name, as go-micro names it (`mdns`, `etcd`, `memory`).
    fn name(&self) -> &'static str;
}

/// What happened to a service's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Nodes appeared.
    Create,
    /// Nodes changed.
    Update,
    /// Nodes went away.
    Delete,
}

impl Action {
    /// go-micro's name for the action: `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// One change seen by a [`Watcher`]: the action and the nodes it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub action: Action,
    /// The service, with the nodes that were created, updated or deleted.
    pub service: Service,
}

/// A stream of registry changes. Dropping it stops watching.
pub struct Watcher {
    events: Pin<Box<dyn Stream<Item = Result<Event, Error>> + Send>>,
}

impl Watcher {
    /// Wraps a stream of events; for registry backends.
    pub fn new(events: impl Stream<Item = Result<Event, Error>> + Send + 'static) -> Watcher {
        Watcher {
            events: Box::pin(events),
        }
    }

    /// The next change; `None` once the registry stops the watch.
    pub async fn next(&mut self) -> Option<Result<Event, Error>> {
        std::future::poll_fn(|cx| self.events.as_mut().poll_next(cx)).await
    }
}

impl Stream for Watcher {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

/// A registry from a URI: `mdns://`, `memory://` or `etcd://host:port[,host:port…]`.
/// A bare name (`mdns`, `etcd`) works too; etcd then uses `127.0.0.1:2379`.
pub fn from_uri(uri: &str) -> Result<Arc<dyn Registry>, Error> {
    let (scheme, rest) = uri.split_once("://").unwrap_or((uri, ""));
    let addresses: Vec<String> = rest
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    build(scheme, &addresses)
}

/// A registry by name and addresses, as the `--registry` and `--registry-address` flags give them.
pub fn build(name: &str, addresses: &[String]) -> Result<Arc<dyn Registry>, Error> {
    build_with_tls(name, addresses, &crate::BackendTls::default())
}

/// As [`build`], with TLS to the backend as the `--registry-tls-*` flags give it; a file that
/// cannot be read is a `Config` error naming it.
pub fn build_with_tls(
    name: &str,
    addresses: &[String],
    tls: &crate::BackendTls,
) -> Result<Arc<dyn Registry>, Error> {
    match name {
        "memory" => Ok(Arc::new(MemoryRegistry::new())),
        "mdns" => Ok(Arc::new(MdnsRegistry::new())),
        #[cfg(feature = "registry-etcd")]
        "etcd" => {
            crate::etcd::check_tls(tls, "--registry-tls")
                .map_err(|err| Error::new(ErrorKind::Config, format!("etcd registry: {err}")))?;
            let options = EtcdOptions::from_addresses(addresses).tls(tls.clone());
            Ok(Arc::new(EtcdRegistry::new(options)))
        }
        #[cfg(not(feature = "registry-etcd"))]
        "etcd" => {
            let _ = (addresses, tls);
            Err(Error::new(
                ErrorKind::Config,
                crate::error_shape::not_built("etcd", "registry", "registry-etcd"),
            ))
        }
        other => Err(Error::new(
            ErrorKind::Config,
            format!("unknown registry `{other}`; use mdns, etcd or memory"),
        )),
    }
}
