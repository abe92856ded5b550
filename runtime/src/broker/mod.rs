//! Publish and subscribe: messages on topics, to every subscriber or one per queue group.
//!
//! A broker delivers while subscribers are connected; it keeps nothing for later. For history,
//! offsets and at-least-once delivery across restarts use [`events`](crate::events).
//!
//! | backend | URI | notes |
//! |---|---|---|
//! | HTTP (default) | `http://` | go-micro's: subscribers register as `micro.http.broker` nodes; needs a registry |
//! | NATS | `nats://host:4222[,host:4222…]` | feature `broker-nats`; go-micro's JSON messages on subject = topic |
//! | memory | `memory://` | one process; for tests and embedding |
//!
//! ```
//! # async fn demo() -> Result<(), micro::broker::Error> {
//! use micro::broker::{self, Broker, Message, SubscribeOptions};
//!
//! let broker = broker::memory();
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let _subscriber = broker
//!     .subscribe(
//!         "greetings",
//!         broker::handler(move |event| {
//!             let tx = tx.clone();
//!             async move { Ok(tx.send(event.message().body.clone())?) }
//!         }),
//!         SubscribeOptions::default(),
//!     )
//!     .await?;
//! broker.publish("greetings", &Message::new("hello")).await?;
//! assert_eq!(rx.recv().await.unwrap(), "hello");
//! # Ok(())
//! # }
//! ```

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
mod fanout;
mod http;
mod memory;
#[cfg(feature = "broker-nats")]
mod nats;
mod types;

use std::fmt;
use std::sync::Arc;

pub use error::{Error, ErrorKind};
pub use http::{HTTP_BROADCAST_VERSION, HTTP_SERVICE, HttpBroker, HttpOptions};
pub use memory::MemoryBroker;
#[cfg(feature = "broker-nats")]
pub use nats::NatsBroker;
pub(crate) use types::deliver;
pub use types::{Event, Handler, Message, SubscribeOptions, Subscriber, TOPIC_HEADER, handler};

use crate::registry::Registry;

pub use crate::BoxFuture;

/// Carries messages from publishers to subscribers. Hold one as `Arc<dyn Broker>`.
pub trait Broker: Send + Sync + fmt::Debug + 'static {
    /// Connects (or starts listening). Publishing and subscribing connect first when needed.
    fn connect(&self) -> BoxFuture<'_, Result<(), Error>>;

    /// Ends every subscription and disconnects.
    fn disconnect(&self) -> BoxFuture<'_, Result<(), Error>>;

    /// Sends `message` to the subscribers of `topic`. `Ok` means the broker took it (the HTTP
    /// broker: every subscriber that should have it did); subscribers joining later miss it.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Runs `handler` for each message published on `topic` from now on.
    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        handler: Handler,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscriber, Error>>;

    /// Where the broker is: the server it talks to, or the address it listens on.
    fn address(&self) -> String;

    /// The backend's name, as go-micro names it (`http`, `nats`, `memory`).
    fn name(&self) -> &'static str;
}

/// A new in-process broker.
pub fn memory() -> Arc<dyn Broker> {
    Arc::new(MemoryBroker::new())
}

/// A broker by name and addresses, as the `--broker` and `--broker-address` flags give them. The
/// HTTP broker finds subscribers in `registry`; for it `addresses` is where to listen (default
/// `:0`: any interface, a free port).
pub fn build(
    name: &str,
    addresses: &[String],
    registry: Arc<dyn Registry>,
) -> Result<Arc<dyn Broker>, Error> {
    build_with_tls(name, addresses, registry, &crate::BackendTls::default())
}

/// As [`build`], with TLS to the NATS servers as the `--broker-tls-*` flags give it; a file
/// that cannot be read is a `Config` error naming it.
pub fn build_with_tls(
    name: &str,
    addresses: &[String],
    registry: Arc<dyn Registry>,
    tls: &crate::BackendTls,
) -> Result<Arc<dyn Broker>, Error> {
    let _ = tls; // unused without the NATS broker
    match name {
        "memory" => Ok(memory()),
        "http" => {
            let mut options = HttpOptions::default();
            if let Some(address) = addresses.first() {
                options.address = address.clone();
            }
            Ok(Arc::new(HttpBroker::new(registry, options)))
        }
        #[cfg(feature = "broker-nats")]
        "nats" => {
            crate::net::tls::backend::client_config(tls, "--broker-tls").map_err(|err| {
                Error::new(ErrorKind::Config, format!("TLS to the NATS broker: {err}"))
            })?;
            Ok(Arc::new(NatsBroker::new(addresses).with_tls(tls.clone())))
        }
        #[cfg(not(feature = "broker-nats"))]
        "nats" => Err(Error::new(
            ErrorKind::Config,
            crate::error_shape::not_built("nats", "broker", "broker-nats"),
        )),
        other => Err(Error::new(
            ErrorKind::Config,
            format!("unknown broker `{other}`; use http, nats or memory"),
        )),
    }
}

/// A broker from a URI: `http://[listen-address]`, `memory://`, `nats://host:4222[,…]`.
pub fn from_uri(uri: &str, registry: Arc<dyn Registry>) -> Result<Arc<dyn Broker>, Error> {
    let (scheme, rest) = uri.split_once("://").unwrap_or((uri, ""));
    build(scheme, &crate::net::split_addresses(rest), registry)
}
