//! Event streaming: durable topics consumed from offsets, by groups, with ack and nack.
//!
//! Unlike the [`broker`](crate::broker), a stream keeps events: a consumer group that starts
//! later reads from where it asks ([`Offset`]), and an event is delivered **at least once**: it
//! goes to another member of its group when its consumer nacks it, lets `ack_wait` pass, or dies
//! holding it. Handlers should therefore be idempotent ([`Event::id`](Event) helps).
//!
//! | backend | URI | notes |
//! |---|---|---|
//! | memory (default) | `memory://` | one process; nothing survives a restart |
//! | NATS JetStream | `nats://host:4222[,…]` | feature `events-nats`; a stream per topic |
//! | Redis streams | `redis://host:6379` | feature `events-redis`; a stream `stream-<topic>` |
//!
//! ```
//! # async fn demo() -> Result<(), micro::events::Error> {
//! use micro::events::{self, ConsumeOptions, EventStream, Offset, PublishOptions};
//!
//! let stream = events::memory();
//! stream.publish("orders", "{\"id\":1}".into(), PublishOptions::default()).await?;
//! let options = ConsumeOptions::default().group("billing").offset(Offset::Start).manual_ack();
//! let mut consumer = stream.consume("orders", options).await?;
//! let event = consumer.next().await.unwrap();
//! assert_eq!(event.payload, "{\"id\":1}");
//! event.ack().await?;
//! # Ok(())
//! # }
//! ```

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
mod memory;
#[cfg(feature = "events-nats")]
mod nats;
#[cfg(feature = "events-redis")]
mod redis;
mod store;
mod traced;
mod types;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

pub use error::{Error, ErrorKind};
pub use memory::MemoryStream;
#[cfg(feature = "events-nats")]
pub use nats::JetStream;
#[cfg(feature = "events-redis")]
pub use redis::RedisStream;
pub use store::MemoryEventStore;
pub(crate) use traced::traced;
pub use types::{
    Acknowledge, ConsumeOptions, Consumer, DEFAULT_ACK_WAIT, Event, Offset, PublishOptions,
    ReadOptions, WriteOptions,
};

pub use crate::BoxFuture;

/// Durable topics: publish events, consume them by group. Hold one as `Arc<dyn EventStream>`.
pub trait EventStream: Send + Sync + fmt::Debug + 'static {
    /// Appends an event with `payload` to `topic`; `Ok` once the backend stored it.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        payload: Bytes,
        options: PublishOptions,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Consumes `topic` as a member of `options.group`.
    fn consume<'a>(
        &'a self,
        topic: &'a str,
        options: ConsumeOptions,
    ) -> BoxFuture<'a, Result<Consumer, Error>>;

    /// The backend's name (`memory`, `nats`, `redis`).
    fn name(&self) -> &'static str;
}

/// Event history: write events, read them back by topic.
pub trait EventStore: Send + Sync + fmt::Debug + 'static {
    /// The stored events of `topic`, oldest first.
    fn read<'a>(
        &'a self,
        topic: &'a str,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Event>, Error>>;

    /// Stores `event`.
    fn write<'a>(
        &'a self,
        event: &'a Event,
        options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>>;
}

/// A new in-process stream.
pub fn memory() -> Arc<dyn EventStream> {
    Arc::new(MemoryStream::new())
}

/// A stream by name and addresses, as the `--events` and `--events-address` flags give them.
pub fn build(name: &str, addresses: &[String]) -> Result<Arc<dyn EventStream>, Error> {
    build_with_tls(name, addresses, &crate::BackendTls::default())
}

/// As [`build`], with TLS to the backend as the `--events-tls-*` flags give it; a file that
/// cannot be read is a `Config` error naming it.
pub fn build_with_tls(
    name: &str,
    addresses: &[String],
    tls: &crate::BackendTls,
) -> Result<Arc<dyn EventStream>, Error> {
    let _ = (addresses, tls); // unused when no external backend is compiled in
    match name {
        "memory" => Ok(memory()),
        #[cfg(feature = "events-nats")]
        "nats" => {
            crate::net::tls::backend::client_config(tls, "--events-tls").map_err(|err| {
                Error::new(ErrorKind::Config, format!("TLS to NATS JetStream: {err}"))
            })?;
            Ok(Arc::new(JetStream::new(addresses).with_tls(tls.clone())))
        }
        #[cfg(feature = "events-redis")]
        "redis" => Ok(Arc::new(RedisStream::with_tls(addresses, tls.clone())?)),
        // Reached only for backends whose feature is off.
        #[allow(unreachable_patterns)]
        "nats" | "redis" => Err(Error::new(
            ErrorKind::Config,
            crate::error_shape::not_built(name, "events backend", &format!("events-{name}")),
        )),
        other => Err(Error::new(
            ErrorKind::Config,
            format!("unknown events backend `{other}`; use memory, nats or redis"),
        )),
    }
}

/// A stream from a URI: `memory://`, `nats://host:4222[,…]`, `redis://host:6379`.
pub fn from_uri(uri: &str) -> Result<Arc<dyn EventStream>, Error> {
    let (scheme, rest) = uri.split_once("://").unwrap_or((uri, ""));
    build(scheme, &crate::net::split_addresses(rest))
}
