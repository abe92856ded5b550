//! Events and the options for publishing, consuming and reading them.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{BoxFuture, Error, ErrorKind};

/// One event: an id, its topic, when it happened, string metadata and a payload.
///
/// Its JSON is go-micro's `events.Event` (`ID`, `Topic`, `Timestamp` in RFC 3339, `Metadata`,
/// `Payload` in base64), which is what the JetStream and Redis backends store.
///
/// A consumed event carries its acknowledgement: [`ack`](Self::ack) when handled,
/// [`nack`](Self::nack) to have it delivered again. Consumed with `auto_ack` (the default), an
/// event that is dropped without either is acked then, after it was handled, never on receipt.
#[derive(Serialize, Deserialize)]
pub struct Event {
    /// Unique per event (a UUID unless the publisher chose one).
    #[serde(rename = "ID")]
    pub id: String,
    /// The topic it was published on.
    #[serde(rename = "Topic")]
    pub topic: String,
    /// When it happened (the publisher's clock unless given).
    #[serde(rename = "Timestamp", with = "crate::rfc3339")]
    pub timestamp: SystemTime,
    /// Publisher-chosen metadata.
    #[serde(
        rename = "Metadata",
        default,
        deserialize_with = "crate::go_json::null_as_default"
    )]
    pub metadata: BTreeMap<String, String>,
    /// The payload, as published.
    #[serde(rename = "Payload", with = "crate::go_json::base64_bytes")]
    pub payload: Bytes,
    #[serde(skip)]
    acknowledgement: Option<Acknowledgement>,
    #[serde(skip)]
    attempt: u32,
    /// The exported span of handling this delivery, ended when the event is settled.
    #[serde(skip)]
    span: Option<crate::telemetry::Span>,
}

impl Event {
    /// The span that published this event (its `traceparent` metadata), if valid: consumers
    /// continue the trace with [`TraceContext::child`](crate::trace::TraceContext::child).
    pub fn trace(&self) -> Option<crate::trace::TraceContext> {
        crate::trace::TraceContext::parse(self.metadata.get(crate::trace::TRACEPARENT)?)
    }

    /// A new event on `topic` with a fresh id, stamped now.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Event {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            topic: topic.into(),
            timestamp: SystemTime::now(),
            metadata: BTreeMap::new(),
            payload: payload.into(),
            acknowledgement: None,
            attempt: 0,
            span: None,
        }
    }

    /// A copy of the event's data, without its acknowledgement.
    pub(crate) fn detached(&self) -> Event {
        Event {
            id: self.id.clone(),
            topic: self.topic.clone(),
            timestamp: self.timestamp,
            metadata: self.metadata.clone(),
            payload: self.payload.clone(),
            acknowledgement: None,
            attempt: 0,
            span: None,
        }
    }

    /// The event as go-micro's JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An event from go-micro's JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Event, Error> {
        serde_json::from_slice(bytes).map_err(|err| {
            Error::new(
                ErrorKind::InvalidEvent,
                format!("not an event ({err}); expected go-micro's JSON with ID, Topic, Timestamp, Metadata, Payload"),
            )
        })
    }

    /// Attaches how to acknowledge this delivery, and which delivery it is (1 for the first);
    /// for backends.
    pub fn with_ack(mut self, ack: impl Acknowledge, auto_ack: bool, attempt: u32) -> Event {
        self.acknowledgement = Some(Acknowledgement {
            handle: Box::new(ack),
            auto_ack,
            settled: false,
        });
        self.attempt = attempt;
        self
    }

    /// Attaches the span of handling this delivery: it ends when the event is acked, nacked
    /// (failed) or dropped.
    pub(crate) fn with_span(mut self, span: crate::telemetry::Span) -> Event {
        self.span = Some(span);
        self
    }

    /// Which delivery of this event this is: 1 the first time, 2 on the first redelivery, …;
    /// 0 for an event not from a consumer.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The payload as JSON of type `T`.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.payload).map_err(|err| self.undecodable("JSON", &err))
    }

    /// The payload as the protobuf message `M`.
    pub fn decode_proto<M: prost::Message + Default>(&self) -> Result<M, Error> {
        M::decode(self.payload.clone()).map_err(|err| self.undecodable("protobuf", &err))
    }

    fn undecodable(&self, format: &str, err: &dyn fmt::Display) -> Error {
        Error::new(
            ErrorKind::InvalidEvent,
            format!(
                "the payload of event {} on {} is not {format} of the expected type: {err}",
                self.id, self.topic
            ),
        )
    }

    /// Marks the event handled: it will not be delivered to this group again.
    pub async fn ack(mut self) -> Result<(), Error> {
        let acked = match self.acknowledgement.as_mut() {
            Some(ack) => ack.settle(true).await,
            None => Ok(()),
        };
        if let (Err(err), Some(span)) = (&acked, &mut self.span) {
            span.fail(err);
        }
        acked
    }

    /// Gives the event back: it is delivered again (to this group) unless its retry limit is
    /// reached.
    pub async fn nack(mut self) -> Result<(), Error> {
        if let Some(span) = &mut self.span {
            span.fail("the consumer nacked the event");
        }
        match self.acknowledgement.as_mut() {
            Some(ack) => ack.settle(false).await,
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("topic", &self.topic)
            .field("timestamp", &self.timestamp)
            .field("metadata", &self.metadata)
            .field("payload", &self.payload)
            .field("attempt", &self.attempt)
            .finish()
    }
}

/// Acknowledges one delivery on a backend; for backends.
pub trait Acknowledge: Send + Sync + 'static {
    /// The event was handled.
    fn ack(&self) -> BoxFuture<'static, Result<(), Error>>;
    /// The event should be delivered again.
    fn nack(&self) -> BoxFuture<'static, Result<(), Error>>;
}

struct Acknowledgement {
    handle: Box<dyn Acknowledge>,
    auto_ack: bool,
    settled: bool,
}

impl Acknowledgement {
    async fn settle(&mut self, ack: bool) -> Result<(), Error> {
        self.settled = true;
        match ack {
            true => self.handle.ack().await,
            false => self.handle.nack().await,
        }
    }
}

impl Drop for Acknowledgement {
    fn drop(&mut self) {
        if self.settled || !self.auto_ack {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let ack = self.handle.ack();
            runtime.spawn(async move {
                if let Err(err) = ack.await {
                    tracing::warn!(error = %err, "auto-ack failed; the event will be delivered again");
                }
            });
        }
    }
}

/// How to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// The event's id (default: a new UUID).
    pub id: Option<String>,
    /// Metadata carried with the event.
    pub metadata: BTreeMap<String, String>,
    /// When the event happened (default: now).
    pub timestamp: Option<SystemTime>,
}

impl PublishOptions {
    /// Sets the event's id, which consumers can deduplicate by.
    pub fn id(mut self, id: impl Into<String>) -> PublishOptions {
        self.id = Some(id.into());
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> PublishOptions {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the timestamp.
    pub fn timestamp(mut self, timestamp: SystemTime) -> PublishOptions {
        self.timestamp = Some(timestamp);
        self
    }

    /// The event these options make for `topic` and `payload`. Published while a call is
    /// served, it carries the call's trace as `traceparent` metadata (unless set already).
    pub fn event(self, topic: &str, payload: Bytes) -> Event {
        let mut event = Event::new(topic, payload);
        if let Some(id) = self.id {
            event.id = id;
        }
        event.metadata = self.metadata;
        if !event.metadata.contains_key(crate::trace::TRACEPARENT)
            && let Some(trace) = crate::Context::current().and_then(|ctx| ctx.trace().copied())
        {
            event
                .metadata
                .insert(crate::trace::TRACEPARENT.to_owned(), trace.traceparent());
        }
        if let Some(timestamp) = self.timestamp {
            event.timestamp = timestamp;
        }
        event
    }
}

/// Where a new consumer group starts reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Offset {
    /// Only events published from now on (the default).
    #[default]
    New,
    /// Every event the stream still holds.
    Start,
    /// Events at or after this time.
    Time(SystemTime),
}

/// Default time a consumer has to ack an event before it is delivered again.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// How to consume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeOptions {
    /// Consumers sharing a group split its events, each delivered to one of them; groups each
    /// get every event. `None`: a group of one, for this consumer only.
    pub group: Option<String>,
    /// Where the group starts reading when it is first created; an existing group carries on
    /// from where it was.
    pub offset: Offset,
    /// `true` (the default): an event dropped without [`Event::ack`] or [`Event::nack`] is acked.
    pub auto_ack: bool,
    /// How long an event may go unacked before it is delivered again (default 30 s).
    pub ack_wait: Duration,
    /// How many times an event is delivered again after the first time before it is given up
    /// (logged and dropped). `None` (the default): no limit.
    pub retry_limit: Option<u32>,
}

impl Default for ConsumeOptions {
    fn default() -> ConsumeOptions {
        ConsumeOptions {
            group: None,
            offset: Offset::New,
            auto_ack: true,
            ack_wait: DEFAULT_ACK_WAIT,
            retry_limit: None,
        }
    }
}

impl ConsumeOptions {
    /// Joins the consumer group `name`.
    pub fn group(mut self, name: impl Into<String>) -> ConsumeOptions {
        self.group = Some(name.into());
        self
    }

    /// Sets where a new group starts.
    pub fn offset(mut self, offset: Offset) -> ConsumeOptions {
        self.offset = offset;
        self
    }

    /// Requires [`Event::ack`]: an event dropped unacked is delivered again after `ack_wait`.
    pub fn manual_ack(mut self) -> ConsumeOptions {
        self.auto_ack = false;
        self
    }

    /// Sets how long an event may go unacked.
    pub fn ack_wait(mut self, wait: Duration) -> ConsumeOptions {
        self.ack_wait = wait;
        self
    }

    /// Sets how many redeliveries an event gets.
    pub fn retry_limit(mut self, limit: u32) -> ConsumeOptions {
        self.retry_limit = Some(limit);
        self
    }

    /// Checks the options make sense.
    pub fn validate(&self) -> Result<(), Error> {
        if self.ack_wait.is_zero() {
            return Err(Error::new(ErrorKind::Config, "ack_wait must be above zero"));
        }
        if matches!(&self.group, Some(group) if group.is_empty() || group.contains(['.', '*', '>', ' ']))
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "invalid consumer group {:?}: use letters, digits, `-` and `_`",
                    self.group.as_deref().unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }
}

/// The events a consumer receives, in order per group member; a `Stream` of [`Event`]s that
/// ends when the backend stops it for good. Dropping it stops consuming (unacked events are
/// delivered again to other members of the group).
pub struct Consumer {
    events: Pin<Box<dyn futures_core::Stream<Item = Event> + Send>>,
}

impl Consumer {
    /// Wraps a stream of events; for backends.
    pub fn new(events: impl futures_core::Stream<Item = Event> + Send + 'static) -> Consumer {
        Consumer {
            events: Box::pin(events),
        }
    }

    /// The next event; `None` once consuming has stopped.
    pub async fn next(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| self.events.as_mut().poll_next(cx)).await
    }
}

impl futures_core::Stream for Consumer {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.events.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").finish_non_exhaustive()
    }
}

/// Which stored events to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// At most this many (default 250, as go-micro).
    pub limit: usize,
    /// Skipping this many of the oldest first.
    pub offset: usize,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            limit: 250,
            offset: 0,
        }
    }
}

/// How to store an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Forget it after this long (default: keep).
    pub ttl: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_go_micros() {
        let mut event = Event::new("orders", &b"{}"[..]);
        event.id = "1".into();
        event.timestamp = crate::rfc3339::parse("2026-01-02T03:04:05.5Z").unwrap();
        event.metadata.insert("k".into(), "v".into());
        let json: serde_json::Value = serde_json::from_slice(&event.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ID": "1", "Topic": "orders", "Timestamp": "2026-01-02T03:04:05.500000000Z",
                "Metadata": {"k": "v"}, "Payload": "e30="})
        );
        let back = Event::from_json(br#"{"ID":"1","Topic":"orders","Timestamp":"2026-01-02T04:04:05.5+01:00","Metadata":null,"Payload":"e30="}"#).unwrap();
        assert_eq!(back.timestamp, event.timestamp);
        assert_eq!(back.payload, event.payload);
        assert!(back.metadata.is_empty());
    }

    #[test]
    fn undecodable_payload_names_event_and_topic() {
        let event = Event::new("orders", &b"not json"[..]);
        let err = event.decode::<serde_json::Value>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidEvent);
        assert!(err.to_string().contains(&event.id) && err.to_string().contains("orders"));
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(
            ConsumeOptions::default()
                .ack_wait(Duration::ZERO)
                .validate()
                .is_err()
        );
        assert!(ConsumeOptions::default().group("a.b").validate().is_err());
        assert!(
            ConsumeOptions::default()
                .group("billing-1")
                .validate()
                .is_ok()
        );
    }
}
