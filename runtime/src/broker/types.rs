//! What a broker carries and hands out: messages, subscribe options, deliveries, subscribers.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{BoxFuture, Error, ErrorKind};
use crate::BoxError;

/// The header naming a message's topic, set on every published message as go-micro does.
pub const TOPIC_HEADER: &str = "Micro-Topic";

/// A message: string headers and an opaque body.
///
/// Its JSON is go-micro's `broker.Message` (`{"Header": {…}, "Body": "<base64>"}`), which is what
/// the HTTP and NATS brokers put on the wire, so Go services can publish and subscribe alongside.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Headers, e.g. `Content-Type`, `Micro-Topic`, `Micro-Id`.
    #[serde(
        rename = "Header",
        default,
        deserialize_with = "crate::go_json::null_as_default"
    )]
    pub header: BTreeMap<String, String>,
    /// The encoded payload.
    #[serde(rename = "Body", with = "crate::go_json::base64_bytes")]
    pub body: Bytes,
}

impl Message {
    /// A message with `body` and no headers.
    pub fn new(body: impl Into<Bytes>) -> Message {
        Message {
            header: BTreeMap::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Message {
        self.header.insert(key.into(), value.into());
        self
    }

    /// The message as go-micro's JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A message from go-micro's JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Message, Error> {
        serde_json::from_slice(bytes).map_err(|err| {
            Error::new(
                ErrorKind::InvalidMessage,
                format!(
                    "not a broker message ({err}); expected {{\"Header\": {{…}}, \"Body\": \"<base64>\"}}"
                ),
            )
        })
    }
}

/// How to subscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// A queue group: each message goes to one subscriber of the group. `None` broadcasts: every
    /// subscriber gets every message.
    pub queue: Option<String>,
    /// `true` (the default): a delivery succeeds when the handler returns `Ok`. `false`: the
    /// handler must also call [`Event::ack`], or the delivery counts as failed.
    pub auto_ack: bool,
}

impl Default for SubscribeOptions {
    fn default() -> SubscribeOptions {
        SubscribeOptions {
            queue: None,
            auto_ack: true,
        }
    }
}

impl SubscribeOptions {
    /// Joins the queue group `name`.
    pub fn queue(mut self, name: impl Into<String>) -> SubscribeOptions {
        self.queue = Some(name.into());
        self
    }

    /// Requires handlers to call [`Event::ack`].
    pub fn manual_ack(mut self) -> SubscribeOptions {
        self.auto_ack = false;
        self
    }
}

/// One message delivered to a subscriber.
#[derive(Debug)]
pub struct Event {
    topic: String,
    message: Message,
    acked: Arc<AtomicBool>,
}

impl Event {
    /// A delivery of `message` on `topic`; for broker backends.
    pub fn new(topic: impl Into<String>, message: Message) -> Event {
        Event {
            topic: topic.into(),
            message,
            acked: Arc::default(),
        }
    }

    /// The topic it was published on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Marks the delivery as handled (needed when subscribed with
    /// [`manual_ack`](SubscribeOptions::manual_ack)).
    pub fn ack(&self) {
        self.acked.store(true, Ordering::Release);
    }
}

/// What subscribers run for each delivery; make one with [`handler`].
pub type Handler = Arc<dyn Fn(Event) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// A [`Handler`] from an async function or closure.
///
/// ```
/// let handler = micro::broker::handler(|event: micro::broker::Event| async move {
///     println!("{} bytes on {}", event.message().body.len(), event.topic());
///     Ok(())
/// });
/// # let _ = handler;
/// ```
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    Arc::new(move |event| Box::pin(f(event)))
}

/// Runs `handler` for one delivery and says whether it succeeded under `options`.
pub(crate) async fn deliver(
    handler: &Handler,
    topic: &str,
    message: Message,
    options: &SubscribeOptions,
) -> Result<(), Error> {
    let event = Event::new(topic, message);
    let acked = event.acked.clone();
    match handler(event).await {
        Err(err) => Err(Error::new(
            ErrorKind::Undelivered,
            format!("the subscriber to {topic} failed: {err}"),
        )
        .with_source(err)),
        Ok(()) if options.auto_ack || acked.load(Ordering::Acquire) => Ok(()),
        Ok(()) => Err(Error::new(
            ErrorKind::Undelivered,
            format!(
                "the subscriber to {topic} returned without acking (it subscribed with manual_ack)"
            ),
        )),
    }
}

type Stop = Box<dyn FnOnce() -> BoxFuture<'static, Result<(), Error>> + Send>;

/// A live subscription. [`unsubscribe`](Self::unsubscribe) ends it; dropping it does too (in
/// the background).
pub struct Subscriber {
    topic: String,
    options: SubscribeOptions,
    stop: Option<Stop>,
}

impl Subscriber {
    /// A subscription that `stop` ends; for broker backends.
    pub fn new<F, Fut>(topic: impl Into<String>, options: SubscribeOptions, stop: F) -> Subscriber
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        Subscriber {
            topic: topic.into(),
            options,
            stop: Some(Box::new(move || Box::pin(stop()))),
        }
    }

    /// The topic subscribed to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The options it was made with.
    pub fn options(&self) -> &SubscribeOptions {
        &self.options
    }

    /// Stops receiving; messages already being handled finish.
    pub async fn unsubscribe(mut self) -> Result<(), Error> {
        match self.stop.take() {
            Some(stop) => stop().await,
            None => Ok(()),
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if let (Some(stop), Ok(runtime)) = (self.stop.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(stop());
        }
    }
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("topic", &self.topic)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_json_is_go_micros() {
        let message = Message::new(&b"hi"[..]).header("Micro-Topic", "greetings");
        let json: serde_json::Value = serde_json::from_slice(&message.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Header": {"Micro-Topic": "greetings"}, "Body": "aGk="})
        );
        assert_eq!(Message::from_json(&message.to_json()).unwrap(), message);
    }

    #[test]
    fn go_nil_header_and_body_read_as_empty() {
        let message = Message::from_json(br#"{"Header":null,"Body":null}"#).unwrap();
        assert_eq!(message, Message::default());
    }

    #[test]
    fn bad_json_names_the_expected_shape() {
        let err = Message::from_json(b"{\"Body\": 7}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidMessage);
        assert!(err.to_string().contains("\"Header\""), "{err}");
    }
}
