//! Event streaming on Redis streams, stored as go-micro's `events/redis` plugin stores it: a
//! stream `stream-<topic>` of entries `{event: <JSON>, attempt: <n>}`, read by consumer groups.

mod consumer;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply};
use redis::{AsyncConnectionConfig, Client, Cmd, FromRedisValue, RedisError, RedisResult};
use redis::{ClientTlsConfig, ConnectionAddr, TlsCertificates};
use tokio::sync::Mutex;

use crate::BackendTls;

use super::{BoxFuture, ConsumeOptions, Consumer, Error, ErrorKind, Event, PublishOptions};
use super::{EventStore, EventStream, ReadOptions, WriteOptions};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Event streaming on Redis ≥ 6.2 streams (feature `events-redis`), interoperable with
/// go-micro's `events/redis`.
///
/// Each group is a Redis consumer group. Unacked entries are claimed by the group's live
/// consumers once idle for `ack_wait`, so events of a consumer that died are not lost; a
/// nack makes the entry idle at once. It is also an [`EventStore`]: `read` lists a topic's stream,
/// `write` appends to it (entries have no TTL, so `WriteOptions::ttl` is not applied).
#[derive(Clone)]
pub struct RedisStream {
    connection: Arc<Connection>,
}

impl RedisStream {
    /// A stream on the server at `addresses` (one `host:port`, `redis://host:port[/db]`, or
    /// `rediss://host:port[/db]` for TLS; none: `127.0.0.1:6379`). Only parses: it connects on
    /// first use.
    pub fn new(addresses: &[String]) -> Result<RedisStream, Error> {
        RedisStream::with_tls(addresses, BackendTls::default())
    }

    /// As [`new`](Self::new), over TLS with `tls`'s CA and client certificate when it gives a
    /// file (as when the address is `rediss://`); reads the files, naming one that is missing.
    pub fn with_tls(addresses: &[String], tls: BackendTls) -> Result<RedisStream, Error> {
        let client = client(addresses, &tls)?;
        Ok(RedisStream {
            connection: Arc::new(Connection::new(client, RESPONSE_TIMEOUT)),
        })
    }

    /// `XADD stream-<topic> * event <JSON> attempt 1`.
    async fn add(&self, event: &Event) -> Result<(), Error> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&[key(&event.topic).as_str(), "*", "event"]);
        cmd.arg(event.to_json()).arg(&["attempt", "1"]);
        let connection = &self.connection;
        let added = connection.query::<String>(&cmd).await;
        added.map(drop).map_err(|err| connection.error(err))
    }
}

impl fmt::Debug for RedisStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStream")
            .field("address", &self.connection.address)
            .finish_non_exhaustive()
    }
}

impl EventStream for RedisStream {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        payload: Bytes,
        options: PublishOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { self.add(&options.event(topic, payload)).await })
    }

    fn consume<'a>(
        &'a self,
        topic: &'a str,
        options: ConsumeOptions,
    ) -> BoxFuture<'a, Result<Consumer, Error>> {
        Box::pin(consumer::start(&self.connection, topic, options))
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

impl EventStore for RedisStream {
    fn read<'a>(
        &'a self,
        topic: &'a str,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Event>, Error>> {
        Box::pin(async move {
            if options.limit == 0 {
                return Ok(Vec::new());
            }
            let key = key(topic);
            let mut cmd = redis::cmd("XRANGE");
            cmd.arg(&[key.as_str(), "-", "+", "COUNT"]);
            cmd.arg(options.offset.saturating_add(options.limit));
            let connection = &self.connection;
            let reply: StreamRangeReply = connection
                .query(&cmd)
                .await
                .map_err(|err| connection.error(err))?;
            let entries = reply.ids.iter().skip(options.offset).take(options.limit);
            Ok(entries
                .filter_map(|entry| parse(&key, entry).ok())
                .collect())
        })
    }

    fn write<'a>(
        &'a self,
        event: &'a Event,
        _options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.add(event))
    }
}

/// go-micro's stream key for `topic`.
fn key(topic: &str) -> String {
    format!("stream-{topic}")
}

/// A client for the one address given (TLS if `tls` gives a file or the scheme is
/// `rediss`), or a `Config` error saying what is wrong.
fn client(addresses: &[String], tls: &BackendTls) -> Result<Client, Error> {
    const USAGE: &str = "use host:port, redis://host:port[/db] or rediss://host:port[/db]";
    let invalid = |address: &str, why: &dyn fmt::Display| {
        Error::new(
            ErrorKind::Config,
            format!("invalid redis address `{address}`: {why}; {USAGE}"),
        )
    };
    let address = match addresses {
        [] => "127.0.0.1:6379",
        [address] => address.trim(),
        _ => {
            let why = format!("one address is supported, got {}", addresses.len());
            return Err(invalid(&addresses.join(","), &why));
        }
    };
    let (scheme, rest) = address.split_once("://").unwrap_or(("redis", address));
    if scheme != "redis" && scheme != "rediss" {
        return Err(invalid(address, &format!("unsupported scheme {scheme}")));
    }
    if scheme == "redis" && !tls.is_on() {
        return Client::open(format!("redis://{rest}")).map_err(|err| invalid(address, &err));
    }
    let pem = crate::net::tls::backend::pem_files(tls, "--events-tls")
        .map_err(|err| Error::new(ErrorKind::Config, format!("TLS to redis: {err}")))?;
    let certificates = TlsCertificates {
        client_tls: pem
            .identity
            .map(|(client_cert, client_key)| ClientTlsConfig {
                client_cert,
                client_key,
            }),
        root_cert: pem.ca,
    };
    Client::build_with_tls(format!("rediss://{rest}"), certificates)
        .map_err(|err| invalid(address, &err))
}

/// The event in a stream entry, or why it is not one (logged, naming the key and entry).
fn parse(key: &str, entry: &StreamId) -> Result<Event, Error> {
    let event = match entry.get::<Vec<u8>>("event") {
        Some(json) => Event::from_json(&json),
        None => Err(Error::new(ErrorKind::InvalidEvent, "no `event` field")),
    };
    event.inspect_err(|err| {
        tracing::warn!(key, entry = %entry.id, error = %err, "skipping a stream entry that is not an event");
    })
}

/// One lazily opened multiplexed connection, opened again after a connection error.
struct Connection {
    client: Client,
    address: String,
    /// Whether the connection is TLS, so that a failed handshake says what to check.
    tls: bool,
    config: AsyncConnectionConfig,
    slot: Mutex<Option<(u64, MultiplexedConnection)>>,
    generation: AtomicU64,
}

impl Connection {
    fn new(client: Client, response_timeout: Duration) -> Connection {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(response_timeout));
        let addr = client.get_connection_info().addr();
        Connection {
            address: addr.to_string(),
            tls: matches!(addr, ConnectionAddr::TcpTls { .. }),
            client,
            config,
            slot: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// Runs `cmd`; once more on a new connection when the open one turns out to be dead (the
    /// server restarted since it was last used).
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        let (reused, generation, mut connection) = self.get().await?;
        let err = match cmd.query_async(&mut connection).await {
            Err(err) if err.code().is_none() => err,
            result => return result,
        };
        self.forget(generation).await;
        if !reused || !(err.is_connection_dropped() || err.is_unrecoverable_error()) {
            return Err(err);
        }
        let (_, generation, mut connection) = self.get().await?;
        let result = cmd.query_async(&mut connection).await;
        if matches!(&result, Err(err) if err.code().is_none()) {
            self.forget(generation).await;
        }
        result
    }

    /// The open connection (`true`: it was open already) or a new one, with its generation.
    async fn get(&self) -> RedisResult<(bool, u64, MultiplexedConnection)> {
        let mut slot = self.slot.lock().await;
        if let Some((generation, connection)) = slot.as_ref() {
            return Ok((true, *generation, connection.clone()));
        }
        let client = &self.client;
        let connection = client.get_multiplexed_async_connection_with_config(&self.config);
        let connection = connection.await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        *slot = Some((generation, connection.clone()));
        Ok((false, generation, connection))
    }

    /// Drops connection `generation` unless another was opened since.
    async fn forget(&self, generation: u64) {
        let mut slot = self.slot.lock().await;
        if matches!(slot.as_ref(), Some((current, _)) if *current == generation) {
            *slot = None;
        }
    }

    /// An events error for `err`: unavailable, unless the server refused the command.
    fn error(&self, err: RedisError) -> Error {
        match err.code() {
            Some(code) if code != "LOADING" => Error::new(
                ErrorKind::Config,
                format!("redis at {} refused the command: {err}", self.address),
            )
            .with_source(err),
            _ if self.tls && crate::net::tls::is_handshake_failure(&err) => Error::new(
                ErrorKind::Config,
                format!(
                    "the TLS handshake with redis at {} failed: {err}; check --events-tls-ca (the \
                     CA that signed the server's certificate) and --events-tls-cert/\
                     --events-tls-key (a client certificate the server trusts)",
                    self.address
                ),
            )
            .with_source(err),
            _ => Error::unavailable("redis", &self.address, err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_parsed_or_refused_with_a_reason() {
        let address = |list: &[&str]| {
            let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            RedisStream::new(&list).map(|stream| stream.connection.address.clone())
        };
        assert_eq!(address(&[]).unwrap(), "127.0.0.1:6379");
        assert_eq!(address(&["10.0.0.1:7000"]).unwrap(), "10.0.0.1:7000");
        assert_eq!(address(&["redis://cache:6380/2"]).unwrap(), "cache:6380");
        assert_eq!(address(&["rediss://cache:6380"]).unwrap(), "cache:6380");
        for bad in [&["nats://x:1"][..], &["a:1", "b:2"], &["host:port"]] {
            let err = address(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            let message = err.to_string();
            assert!(message.starts_with("invalid redis address"), "{message}");
            assert!(
                message.contains(bad[0]) && message.contains("host:port"),
                "{message}"
            );
        }
    }
}
