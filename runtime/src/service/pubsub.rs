//! What a service publishes and subscribes with: its broker, its event stream, and the typed
//! subscribers it runs while it is up.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::TryFutureExt;
use futures_util::future::Either;

use super::subscriber::{self, SubscriberService};
use super::{Error, Service, built_once};
use crate::BoxError;
use crate::broker::{self, Broker, SubscribeOptions, Subscriber};
use crate::codec::Payload;
use crate::context::Context;
use crate::events;
use crate::registry::{Endpoint, Value};
use crate::telemetry::{self, Span, Telemetry};
use crate::trace::{TRACEPARENT, TraceContext};

/// A subscriber the service runs: its topic, options, and handler (given the service name).
#[derive(Clone)]
pub(crate) struct Subscription {
    topic: String,
    options: SubscribeOptions,
    message_type: &'static str,
    /// The broker handler, delivering as `Delivery` says.
    handler: Arc<dyn Fn(Delivery) -> broker::Handler + Send + Sync>,
}

/// How a service delivers messages to its subscribers.
#[derive(Clone)]
pub(crate) struct Delivery {
    /// The service's name, its subscribers' contexts' service.
    pub(crate) service: Arc<str>,
    /// The subscriber wrappers messages go through, if there are any.
    pub(crate) wrappers: Option<SubscriberService>,
    /// Where deliveries' spans are exported, if anywhere.
    pub(crate) telemetry: Telemetry,
    /// The broker's name, the spans' `messaging.system`.
    pub(crate) system: Arc<str>,
}

impl Subscription {
    /// The registry endpoint go-micro lists for a subscriber: `topic` and `subscriber` metadata.
    pub(crate) fn endpoint(&self) -> Endpoint {
        let kind = self
            .message_type
            .rsplit("::")
            .next()
            .unwrap_or(self.message_type);
        Endpoint {
            name: format!("Subscriber.{}", self.topic),
            request: Some(Value {
                name: kind.to_owned(),
                kind: kind.to_owned(),
                values: Vec::new(),
            }),
            response: None,
            metadata: BTreeMap::from([
                ("topic".to_owned(), self.topic.clone()),
                ("subscriber".to_owned(), "true".to_owned()),
            ]),
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("options", &self.options)
            .field("message_type", &self.message_type)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Uses `broker` for publishing and subscribing instead of the one `--broker` names
    /// (default: go-micro's HTTP broker over this service's registry).
    pub fn broker(mut self, broker: Arc<dyn Broker>) -> Service {
        self.options.broker = super::Choice::Instance(broker);
        self
    }

    /// Uses `stream` for events instead of the one `--events` names (default: in memory).
    pub fn events(mut self, stream: Arc<dyn events::EventStream>) -> Service {
        self.options.events = super::Choice::Instance(stream);
        self
    }

    /// The service's event stream (built once from `--events`/`--events-address`):
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use micro::events::{ConsumeOptions, PublishOptions};
    ///
    /// let service = micro::Service::new("billing").parse_flags();
    /// let stream = service.stream()?;
    /// stream.publish("invoices", "{\"id\":7}".into(), PublishOptions::default()).await?;
    /// let mut consumer = stream.consume("invoices", ConsumeOptions::default().group("billing")).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// With OpenTelemetry on, its publishes and deliveries are spans (see docs/production.md).
    pub fn stream(&self) -> Result<Arc<dyn events::EventStream>, Error> {
        let options = self.options_with_flags()?;
        built_once(&self.events, || {
            let tls = &options.backend_tls.events;
            let stream = options
                .events
                .build(|name, addresses| events::build_with_tls(name, addresses, tls))?;
            Ok(events::traced(stream, self.shared_telemetry(&options)?))
        })
    }

    /// Runs `handler` for each message published on `topic` while the service runs, decoding
    /// it as `M` by its `Content-Type` (protobuf by default; JSON with
    /// [`Json<T>`](crate::codec::Json)). Every instance gets every message; see
    /// [`subscribe_with`](Self::subscribe_with) for queue groups.
    ///
    /// The handler gets a [`Context`] whose metadata are the message headers. A message that
    /// does not decode, or a handler error, fails the delivery: it is logged, and the broker
    /// reports it to the publisher (the HTTP broker retries it first).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), micro::service::Error> {
    /// use micro::codec::Json;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Signup { email: String }
    ///
    /// micro::Service::new("mailer")
    ///     .subscribe("signups", |_ctx, Json(signup): Json<Signup>| async move {
    ///         println!("welcome {}", signup.email);
    ///         Ok::<_, micro::Status>(())
    ///     })
    ///     .run()
    ///     .await
    /// # }
    /// ```
    pub fn subscribe<M, F, Fut, E>(self, topic: impl Into<String>, handler: F) -> Service
    where
        M: Payload,
        F: Fn(Context, M) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        self.subscribe_with(topic, SubscribeOptions::default(), handler)
    }

    /// Like [`subscribe`](Self::subscribe), with options: a queue group (each message goes to
    /// one instance of the group), or manual acks.
    pub fn subscribe_with<M, F, Fut, E>(
        mut self,
        topic: impl Into<String>,
        options: SubscribeOptions,
        handler: F,
    ) -> Service
    where
        M: Payload,
        F: Fn(Context, M) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let handler = Arc::new(handler);
        self.subscriptions.push(Subscription {
            topic: topic.into(),
            options,
            message_type: std::any::type_name::<M>(),
            handler: Arc::new(move |delivery| typed(delivery, handler.clone())),
        });
        self
    }

    pub(super) fn shared_broker(&self, options: &super::Options) -> Result<Arc<dyn Broker>, Error> {
        let registry = self.shared_registry(options)?;
        let tls = &options.backend_tls.broker;
        built_once(&self.broker, || {
            options
                .broker
                .build(|name, addresses| match (name, addresses) {
                    // The HTTP broker listens beside the service: same host, a free port.
                    ("http", []) => broker::build(name, &[beside(&options.address)], registry),
                    _ => broker::build_with_tls(name, addresses, registry, tls),
                })
        })
    }

    /// The registry endpoints of this service's subscribers.
    pub(super) fn subscriber_endpoints(&self) -> Vec<Endpoint> {
        self.subscriptions
            .iter()
            .map(Subscription::endpoint)
            .collect()
    }
}

/// `host:0` for the service address `host:port` (`:0` for `:port`).
fn beside(address: &str) -> String {
    match address.rsplit_once(':') {
        Some((host, _)) => format!("{host}:0"),
        None => ":0".to_owned(),
    }
}

/// A broker handler that decodes each message as `M` and calls `handler` with a context.
fn typed<M, F, Fut, E>(delivery: Delivery, handler: Arc<F>) -> broker::Handler
where
    M: Payload,
    F: Fn(Context, M) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    broker::handler(move |event| {
        let header = &event.message().header;
        let mut trace = TraceContext::continue_from(traceparent(header));
        let span = deliver_span(&delivery, event.topic(), header, &mut trace);
        let ctx = Context::for_message(delivery.service.clone(), header, trace);
        let content_type = event
            .message()
            .header
            .get("Content-Type")
            .cloned()
            .unwrap_or_default();
        let decoded = M::decode(&content_type, event.message().body.clone());
        let topic = event.topic().to_owned();
        let handler = handler.clone();
        // The wrappers, with the message as it arrived for them to see.
        let wrapped = (delivery.wrappers.clone()).map(|w| (w, event.message().clone()));
        let delivered = async move {
            let message = decoded.map_err(|err| {
                tracing::warn!(%topic, error = %err, "a message could not be decoded; it is not delivered");
                BoxError::from(format!("cannot decode the message on {topic}: {err}"))
            })?;
            let run = move |ctx, message| handler(ctx, message).map_err(Into::into);
            let delivered = match wrapped {
                Some((wrappers, raw)) => {
                    let topic = topic.clone();
                    Either::Left(subscriber::run(
                        wrappers,
                        ctx.clone(),
                        topic,
                        raw,
                        message,
                        run,
                    ))
                }
                None => Either::Right(run(ctx.clone(), message)),
            };
            ctx.scope(delivered).await.inspect_err(|err| {
                tracing::warn!(%topic, error = %err, "a subscriber failed");
            })
        };
        async move {
            let result = delivered.await;
            if let Err(err) = &result {
                let mut span = span;
                span.fail(err);
            }
            result
        }
    })
}

/// The `traceparent` among a message's headers (any case).
fn traceparent(headers: &BTreeMap<String, String>) -> Option<&str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(TRACEPARENT))
        .map(|(_, value)| value.as_str())
}

/// The exported span of a delivery on `topic` (a consumer span, OpenTelemetry's `process`
/// operation), the child of the publish's span, with `trace`'s ids.
fn deliver_span(
    delivery: &Delivery,
    topic: &str,
    headers: &BTreeMap<String, String>,
    trace: &mut TraceContext,
) -> Span {
    let message = telemetry::Message {
        system: &delivery.system,
        topic,
        id: headers.get("Micro-Id").map(String::as_str),
    };
    let group = Some(&*delivery.service);
    delivery.telemetry.process(message, group, trace)
}

/// Subscribes each of `subscriptions` on `broker`, delivering as `delivery` says.
pub(super) async fn start(
    broker: &Arc<dyn Broker>,
    subscriptions: &[Subscription],
    delivery: Delivery,
) -> Result<Vec<Subscriber>, Error> {
    let mut subscribers = Vec::with_capacity(subscriptions.len());
    for subscription in subscriptions {
        let handler = (subscription.handler)(delivery.clone());
        let subscriber = broker
            .subscribe(&subscription.topic, handler, subscription.options.clone())
            .await
            .map_err(|err| {
                let message = format!("cannot subscribe to {}: {err}", subscription.topic);
                Error::new(super::ErrorKind::Broker, message).with_source(err)
            })?;
        tracing::info!(topic = %subscription.topic, broker = broker.name(), "subscribed");
        subscribers.push(subscriber);
    }
    Ok(subscribers)
}
