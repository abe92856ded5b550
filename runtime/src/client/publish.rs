//! Publishing through the client's broker, with go-micro's message headers.

use std::collections::BTreeMap;

use super::Client;
use super::headers::propagate;
use crate::broker::{self, Message, TOPIC_HEADER};
use crate::codec::Payload;
use crate::context::Context;
use crate::telemetry::{self, Span};
use crate::trace::TRACEPARENT;

impl Client {
    /// Publishes `message` on `topic` through the client's broker (the service's, for
    /// [`Service::client`](crate::Service::client)), encoded as protobuf, or as JSON for
    /// [`Json<T>`](crate::codec::Json).
    ///
    /// Headers are go-micro's (`Content-Type`, `Micro-Topic`, `Micro-Id`), plus
    /// `Micro-From-Service`, W3C `traceparent` (the call being served as the parent, or a new
    /// trace) and, inside a handler, the call's allow-listed metadata.
    ///
    /// ```no_run
    /// # async fn demo(client: micro::Client) -> Result<(), micro::broker::Error> {
    /// use micro::codec::Json;
    /// client.publish("signups", &Json(serde_json::json!({"email": "a@b.c"}))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish<M: Payload>(&self, topic: &str, message: &M) -> Result<(), broker::Error> {
        let broker = self.inner.options.broker.as_ref().ok_or_else(|| {
            broker::Error::new(
                broker::ErrorKind::Config,
                "this client has no broker; use Service::client, or set one with ClientBuilder::broker",
            )
        })?;
        let (content_type, body) = message.encode();
        let id = uuid::Uuid::new_v4().to_string();
        let mut headers = self.propagated_headers();
        let mut span = self.publish_span(broker.name(), topic, &id, &mut headers);
        let mut message = Message::new(body)
            .header("Content-Type", content_type)
            .header(TOPIC_HEADER, topic)
            .header("Micro-Id", id);
        message.header.extend(headers);
        let published = broker.publish(topic, &message).await;
        if let Err(err) = &published {
            span.fail(err);
        }
        published
    }

    /// The publish's exported span (a producer span, OpenTelemetry's `publish` operation), the
    /// child of the call being served, which the message's `traceparent` then names; without
    /// an exporter, the `traceparent` names the call being served, or starts a trace.
    fn publish_span(
        &self,
        system: &str,
        topic: &str,
        id: &str,
        headers: &mut BTreeMap<String, String>,
    ) -> Span {
        let parent = headers.remove(TRACEPARENT);
        let message = telemetry::Message {
            system,
            topic,
            id: Some(id),
        };
        let telemetry = &self.inner.options.telemetry;
        let (trace, span) = telemetry.publish(message, parent.as_deref());
        headers.insert(TRACEPARENT.to_owned(), trace.traceparent());
        span
    }

    /// The metadata a publish carries from the call being served (its trace as `traceparent`),
    /// and the caller's name.
    fn propagated_headers(&self) -> BTreeMap<String, String> {
        let mut headers = http::HeaderMap::new();
        propagate(
            &mut headers,
            Context::current().as_ref(),
            &self.inner.options,
        );
        headers
            .iter()
            .filter_map(|(key, value)| {
                let key = match key.as_str() {
                    "micro-from-service" => "Micro-From-Service".to_owned(),
                    other => other.to_owned(),
                };
                Some((key, value.to_str().ok()?.to_owned()))
            })
            .collect()
    }
}
