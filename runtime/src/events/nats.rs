//! Event streaming on NATS JetStream: a stream per topic (subject = topic), a durable pull
//! consumer per group, go-micro's event JSON as the message data.

use std::collections::HashSet;
use std::fmt::Display;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, UNIX_EPOCH};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::context::{GetStreamByNameErrorKind, PublishErrorKind};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{self, AckKind, stream};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::nats::{ConnectError, Connector, TIMEOUT};

use super::{
    Acknowledge, BoxFuture, ConsumeOptions, Consumer, Error, ErrorKind, Event, EventStore,
    EventStream, Offset, PublishOptions, ReadOptions, WriteOptions,
};

/// Events pulled per request (async-nats's default): what a consumer may hold unacked without
/// handing out; if it dies, they go to the group's other members after `ack_wait`.
const BATCH: usize = 200;
/// Unacked events a group may have out at once (JetStream's default).
const MAX_ACK_PENDING: i64 = 1000;
/// How long one pull request waits on the server, and the heartbeat that shows it is alive.
const EXPIRES: Duration = Duration::from_secs(10);
const HEARTBEAT: Duration = Duration::from_secs(3);
/// When the server drops the consumer of a group-less `consume` whose process died.
const ORPHANED_AFTER: Duration = Duration::from_secs(3600);

/// Events on NATS JetStream, as go-micro's `natsjs` stores them: a stream per topic (created when
/// missing, named after the topic with `.`, `*`, `>`, `/`, `\` and spaces replaced by `_`),
/// subject = topic, data = the event's JSON.
///
/// A consumer group is a durable pull consumer named after the group; a group-less `consume`
/// gets a durable of its own, deleted when its [`Consumer`] is dropped. Connects on first use,
/// then keeps the connection (reconnecting by itself). Needs nats-server 2.9 or later with
/// JetStream enabled (`nats-server -js`).
#[derive(Debug)]
pub struct JetStream {
    connector: Connector,
    /// The JetStream context, made once connected.
    context: tokio::sync::OnceCell<jetstream::Context>,
    address: Arc<str>,
    /// Topics known to have a stream, so publishing does not look it up each time.
    streams: StdMutex<HashSet<String>>,
    /// On how many servers a stream this creates is stored.
    replicas: usize,
}

impl JetStream {
    /// JetStream on the NATS servers at `addresses` (`host:port`, `nats://host:port` or
    /// `tls://host:port`; none: `127.0.0.1:4222`). Nothing is contacted until first use.
    pub fn new(addresses: &[String]) -> JetStream {
        let connector = Connector::new(addresses);
        JetStream {
            address: connector.address().into(),
            connector,
            context: tokio::sync::OnceCell::new(),
            streams: StdMutex::default(),
            replicas: 1,
        }
    }

    /// Stores each stream this creates on `replicas` servers of a JetStream cluster (at most
    /// 5; 3 survives losing one server with nothing acknowledged lost). Streams that exist
    /// keep theirs. Default 1, JetStream's own default.
    pub fn replicas(mut self, replicas: usize) -> JetStream {
        self.replicas = replicas.clamp(1, 5);
        self
    }

    /// Speaks TLS with `tls`'s CA and client certificate (also when an address is `tls://`,
    /// with the system's roots). Call before first use.
    pub fn with_tls(mut self, tls: crate::BackendTls) -> JetStream {
        self.connector = self.connector.with_tls(tls, "--events-tls");
        self
    }

    /// The JetStream context, connecting first if needed.
    async fn context(&self) -> Result<jetstream::Context, Error> {
        let context = self.context.get_or_try_init(|| async {
            let client = self.connector.client().await.map_err(|err| match err {
                ConnectError::Config(message) => Error::new(ErrorKind::Config, message),
                ConnectError::Unavailable(err) => unavailable(&self.address, err),
            })?;
            let mut context = jetstream::new(client);
            context.set_timeout(TIMEOUT);
            Ok::<_, Error>(context)
        });
        context.await.cloned()
    }

    /// Stores `data` on `topic`, creating the topic's stream first if needed.
    async fn store(&self, topic: &str, data: Vec<u8>) -> Result<(), Error> {
        check_topic(topic)?;
        let context = self.context().await?;
        let data = Bytes::from(data);
        let known = self.known_streams().contains(topic);
        if !known {
            ensure_stream(&context, topic, self.replicas, &self.address).await?;
            self.known_streams().insert(topic.to_owned());
        }
        match publish(&context, topic, data.clone()).await {
            // The stream was deleted (or the server lost its store) since: make it again.
            Err(err) if err.kind() == PublishErrorKind::StreamNotFound => {
                ensure_stream(&context, topic, self.replicas, &self.address).await?;
                publish(&context, topic, data).await
            }
            result => result,
        }
        .map_err(|err| unavailable(&self.address, format!("publishing on {topic}: {err}")))
    }

    fn known_streams(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The events stored on `topic`, through a short-lived consumer that acks nothing.
    async fn read_events(&self, topic: &str, options: ReadOptions) -> Result<Vec<Event>, Error> {
        check_topic(topic)?;
        let context = self.context().await?;
        let failed =
            |err: &dyn Display| unavailable(&self.address, format!("reading {topic}: {err}"));
        let name = match context.stream_by_subject(topic).await {
            Ok(name) => name,
            Err(err) if err.kind() == GetStreamByNameErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(failed(&err)),
        };
        let config = pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            filter_subject: topic.to_owned(),
            inactive_threshold: Duration::from_secs(60),
            memory_storage: true,
            ..Default::default()
        };
        let consumer: jetstream::consumer::PullConsumer = context
            .create_consumer_on_stream(config, &name)
            .await
            .map_err(|err| failed(&err))?;
        let stored = usize::try_from(consumer.cached_info().num_pending).unwrap_or(usize::MAX);
        let wanted = stored.min(options.offset.saturating_add(options.limit));
        let mut events = Vec::new();
        if wanted > 0 {
            let fetch = consumer.fetch().max_messages(wanted).messages();
            let messages = fetch.await.map_err(|err| failed(&err))?;
            let mut messages = messages.take(wanted).skip(options.offset);
            while let Some(message) = messages.next().await {
                let message = message.map_err(|err| failed(&err))?;
                match Event::from_json(&message.payload) {
                    Ok(event) => events.push(event),
                    Err(err) => {
                        tracing::warn!(%topic, error = %err, "skipping a stored message that is not an event")
                    }
                }
            }
        }
        let consumer = &consumer.cached_info().name;
        let _ = context.delete_consumer_from_stream(consumer, &name).await;
        Ok(events)
    }
}

impl EventStream for JetStream {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        payload: Bytes,
        options: PublishOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let event = options.event(topic, payload);
            self.store(topic, event.to_json()).await
        })
    }

    fn consume<'a>(
        &'a self,
        topic: &'a str,
        options: ConsumeOptions,
    ) -> BoxFuture<'a, Result<Consumer, Error>> {
        Box::pin(async move {
            options.validate()?;
            check_topic(topic)?;
            let context = self.context().await?;
            let mut receiver = Receiver::new(context, &self.address, topic, &options)?;
            receiver.replicas = self.replicas;
            receiver.messages = Some(receiver.open().await?);
            Ok(Consumer::new(futures_util::stream::unfold(
                receiver,
                |mut receiver| async move { Some((receiver.next().await, receiver)) },
            )))
        })
    }

    fn name(&self) -> &'static str {
        "nats"
    }
}

impl EventStore for JetStream {
    /// Reads the topic's stream from its first stored message.
    fn read<'a>(
        &'a self,
        topic: &'a str,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Event>, Error>> {
        Box::pin(self.read_events(topic, options))
    }

    /// Publishes `event` as it is. `options.ttl` is not supported by JetStream before 2.11 and
    /// is ignored: limit the stream's age on the server instead.
    fn write<'a>(
        &'a self,
        event: &'a Event,
        _options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.store(&event.topic, event.to_json()))
    }
}

/// One `consume`: pulls from its JetStream consumer, re-creating what it needs (stream,
/// consumer, pull) after failures, with backoff, until dropped.
struct Receiver {
    context: jetstream::Context,
    address: Arc<str>,
    topic: String,
    name: String,
    /// Group-less: the consumer is this receiver's own and is deleted with it.
    anonymous: bool,
    config: pull::Config,
    auto_ack: bool,
    stream: String,
    /// On how many servers the stream is stored if this creates it.
    replicas: usize,
    messages: Option<pull::Stream>,
    failures: u32,
}

impl Receiver {
    fn new(
        context: jetstream::Context,
        address: &Arc<str>,
        topic: &str,
        options: &ConsumeOptions,
    ) -> Result<Receiver, Error> {
        let name = options
            .group
            .clone()
            .unwrap_or_else(|| format!("micro-{}", uuid::Uuid::new_v4()));
        let config = pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: deliver_policy(options.offset)?,
            ack_policy: AckPolicy::Explicit,
            ack_wait: options.ack_wait,
            max_deliver: options.retry_limit.map_or(-1, |n| i64::from(n) + 1),
            filter_subject: topic.to_owned(),
            max_ack_pending: MAX_ACK_PENDING,
            inactive_threshold: match options.group {
                Some(_) => Duration::ZERO,
                None => ORPHANED_AFTER,
            },
            ..Default::default()
        };
        Ok(Receiver {
            context,
            address: address.clone(),
            topic: topic.to_owned(),
            name,
            anonymous: options.group.is_none(),
            config,
            auto_ack: options.auto_ack,
            stream: String::new(),
            replicas: 1,
            messages: None,
            failures: 0,
        })
    }

    /// Finds (or creates) the stream and the consumer, and starts pulling. An existing group
    /// consumer keeps its position and settings.
    async fn open(&mut self) -> Result<pull::Stream, Error> {
        let stream =
            ensure_stream(&self.context, &self.topic, self.replicas, &self.address).await?;
        self.stream = stream.cached_info().config.name.clone();
        let failed = |err: &dyn Display| {
            unavailable(&self.address, format!("consumer {}: {err}", self.name))
        };
        let consumer = stream
            .get_or_create_consumer(&self.name, self.config.clone())
            .await
            .map_err(|err| failed(&err))?;
        let filter = &consumer.cached_info().config.filter_subject;
        if filter != &self.topic {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "consumer group {} of stream {} consumes {filter}, not {}: pick another group",
                    self.name, self.stream, self.topic
                ),
            ));
        }
        let pull = consumer.stream().max_messages_per_batch(BATCH);
        pull.expires(EXPIRES)
            .heartbeat(HEARTBEAT)
            .messages()
            .await
            .map_err(|err| failed(&err))
    }

    /// The next event; waits (retrying, with backoff) for as long as it takes.
    async fn next(&mut self) -> Event {
        loop {
            let Some(messages) = self.messages.as_mut() else {
                tokio::time::sleep(backoff(self.failures)).await;
                match self.open().await {
                    Ok(messages) => self.messages = Some(messages),
                    Err(err) => {
                        self.failures += 1;
                        tracing::warn!(topic = %self.topic, error = %err, "JetStream consumer unavailable; retrying");
                    }
                }
                continue;
            };
            match messages.next().await {
                Some(Ok(message)) => {
                    self.failures = 0;
                    if let Some(event) = self.event(message).await {
                        return event;
                    }
                }
                Some(Err(err)) => {
                    self.failures += 1;
                    self.messages = None;
                    tracing::warn!(topic = %self.topic, consumer = %self.name, error = %err, "pulling from JetStream failed; retrying");
                }
                None => self.messages = None,
            }
        }
    }

    /// The event in `message`; `None` (after terminating it) when it is not an event.
    async fn event(&self, message: jetstream::Message) -> Option<Event> {
        let (attempt, sequence) = message.info().map_or((1, 0), |info| {
            let attempt = u32::try_from(info.delivered).unwrap_or(u32::MAX);
            (attempt, info.stream_sequence)
        });
        let (message, acker) = message.split();
        match Event::from_json(&message.payload) {
            Ok(event) => {
                let ack = NatsAck {
                    acker: Arc::new(acker),
                    address: self.address.clone(),
                };
                Some(event.with_ack(ack, self.auto_ack, attempt))
            }
            Err(err) => {
                tracing::warn!(topic = %self.topic, stream = %self.stream, sequence, error = %err,
                    "dropping a JetStream message that is not a go-micro event (terminated: it will not be delivered again)");
                if let Err(err) = acker.ack_with(AckKind::Term).await {
                    tracing::warn!(topic = %self.topic, sequence, error = %err, "terminating the message failed");
                }
                None
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if !self.anonymous || self.stream.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (context, stream, name) =
                (self.context.clone(), self.stream.clone(), self.name.clone());
            runtime.spawn(async move {
                if let Err(err) = context.delete_consumer_from_stream(&name, &stream).await {
                    tracing::debug!(%stream, consumer = %name, error = %err, "deleting a group-less consumer failed; the server drops it when idle");
                }
            });
        }
    }
}

/// Acks and nacks one JetStream delivery.
struct NatsAck {
    acker: Arc<Acker>,
    address: Arc<str>,
}

impl Acknowledge for NatsAck {
    /// Acks without waiting for the server to confirm (a round trip per event would cap a
    /// consumer at one event per round trip); an ack lost on the way only means the event is
    /// delivered again, which at-least-once allows.
    fn ack(&self) -> BoxFuture<'static, Result<(), Error>> {
        let (acker, address) = (self.acker.clone(), self.address.clone());
        Box::pin(async move {
            acker
                .ack()
                .await
                .map_err(|err| unavailable(&address, format!("acking: {err}")))
        })
    }

    /// Naks: JetStream delivers the event again right away.
    fn nack(&self) -> BoxFuture<'static, Result<(), Error>> {
        let (acker, address) = (self.acker.clone(), self.address.clone());
        Box::pin(async move {
            acker
                .ack_with(AckKind::Nak(None))
                .await
                .map_err(|err| unavailable(&address, format!("nacking: {err}")))
        })
    }
}

/// The topic's stream: the one holding its subject, else one named after it (created, or
/// extended to the subject when another topic mapped to the same name).
async fn ensure_stream(
    context: &jetstream::Context,
    topic: &str,
    replicas: usize,
    address: &str,
) -> Result<stream::Stream, Error> {
    let failed =
        |err: &dyn Display| unavailable(address, format!("finding the stream of {topic}: {err}"));
    let name = match context.stream_by_subject(topic).await {
        Ok(name) => return context.get_stream(&name).await.map_err(|err| failed(&err)),
        Err(err) if err.kind() == GetStreamByNameErrorKind::NotFound => stream_name(topic),
        Err(err) => return Err(failed(&err)),
    };
    let config = stream::Config {
        name: name.clone(),
        subjects: vec![topic.to_owned()],
        num_replicas: replicas,
        ..Default::default()
    };
    let stream = context
        .get_or_create_stream(config)
        .await
        .map_err(|err| failed(&err))?;
    let mut config = stream.cached_info().config.clone();
    if config.subjects.iter().any(|subject| subject == topic) {
        return Ok(stream);
    }
    config.subjects.push(topic.to_owned());
    context
        .update_stream(&config)
        .await
        .map_err(|err| failed(&err))?;
    context.get_stream(&name).await.map_err(|err| failed(&err))
}

/// Publishes and waits for JetStream's ack (the context's timeout bounds the wait).
async fn publish(
    context: &jetstream::Context,
    topic: &str,
    data: Bytes,
) -> Result<(), jetstream::context::PublishError> {
    context.publish(topic.to_owned(), data).await?.await?;
    Ok(())
}

/// `orders.eu` → `orders_eu`: a valid stream name for a topic.
fn stream_name(topic: &str) -> String {
    topic
        .chars()
        .map(|c| match c {
            '.' | '*' | '>' | '/' | '\\' => '_',
            c if c.is_whitespace() => '_',
            c => c,
        })
        .collect()
}

/// Refuses topics that are not plain NATS subjects.
fn check_topic(topic: &str) -> Result<(), Error> {
    let valid = !topic.contains(char::is_whitespace)
        && topic
            .split('.')
            .all(|token| !token.is_empty() && token != "*" && token != ">");
    match valid {
        true => Ok(()),
        false => Err(Error::new(
            ErrorKind::Config,
            format!(
                "invalid topic {topic:?} for NATS: use dot-separated words without spaces or the wildcards * and >"
            ),
        )),
    }
}

fn deliver_policy(offset: Offset) -> Result<DeliverPolicy, Error> {
    let start_time = match offset {
        Offset::New => return Ok(DeliverPolicy::New),
        Offset::Start => return Ok(DeliverPolicy::All),
        Offset::Time(time) => time,
    };
    // Before 1970 means from the start.
    let nanos = start_time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let start_time = i128::try_from(nanos)
        .map_err(crate::BoxError::from)
        .and_then(async_nats::datetime::from_nanos)
        .map_err(|err| Error::new(ErrorKind::Config, format!("bad offset time: {err}")))?;
    Ok(DeliverPolicy::ByStartTime { start_time })
}

/// 0, 100 ms, 200 ms, … up to 5 s.
fn backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => Duration::from_millis(100 << (n - 1).min(6)).min(Duration::from_secs(5)),
    }
}

fn unavailable(address: &str, err: impl Into<crate::BoxError>) -> Error {
    Error::unavailable("nats", address, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_map_to_valid_stream_names_and_bad_topics_are_refused() {
        assert_eq!(stream_name("orders"), "orders");
        assert_eq!(stream_name("orders.eu.new"), "orders_eu_new");
        assert_eq!(stream_name("a/b\\c d"), "a_b_c_d");
        assert!(check_topic("orders.eu").is_ok());
        for bad in ["", "a b", "a.*", ">", "a..b", ".a"] {
            let err = check_topic(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad:?}");
        }
    }

    #[test]
    fn offsets_map_to_deliver_policies_and_backoff_caps() {
        assert_eq!(deliver_policy(Offset::New).unwrap(), DeliverPolicy::New);
        assert_eq!(deliver_policy(Offset::Start).unwrap(), DeliverPolicy::All);
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let policy = deliver_policy(Offset::Time(at)).unwrap();
        assert!(matches!(policy, DeliverPolicy::ByStartTime { start_time }
            if start_time.unix_timestamp() == 1_700_000_000));
        let waits: Vec<u128> = [0, 1, 3, 50].map(|n| backoff(n).as_millis()).into();
        assert_eq!(waits, [0, 100, 400, 5000]);
    }
}
