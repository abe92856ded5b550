//! The NATS broker: go-micro's JSON messages on core NATS, subject = topic, queue groups for
//! `queue`.

use async_nats::Client;
use async_nats::client::PublishErrorKind;
use futures_util::StreamExt;
use tokio::sync::oneshot;

use crate::nats::{ConnectError, Connector, TIMEOUT};

use super::{
    BoxFuture, Broker, Error, ErrorKind, Handler, Message, SubscribeOptions, Subscriber,
    TOPIC_HEADER, deliver,
};

/// A broker on core NATS, wire-compatible with go-micro's `nats` broker.
///
/// Connects on first use and then keeps the connection, reconnecting by itself (subscriptions
/// too). `publish` waits up to 5 s for the message to reach the server; after an error it may
/// still go out once the connection is back. Core NATS is at-most-once: a message published
/// while a subscriber is away, or whose handler fails, is not delivered again (failures are
/// logged). Use [`events`](crate::events) on JetStream for redelivery.
#[derive(Debug)]
pub struct NatsBroker {
    connector: Connector,
}

impl NatsBroker {
    /// A broker for the NATS servers at `addresses` (`host:port`, `nats://host:port` or
    /// `tls://host:port`; none: `127.0.0.1:4222`). Nothing is contacted until first use.
    pub fn new(addresses: &[String]) -> NatsBroker {
        NatsBroker {
            connector: Connector::new(addresses),
        }
    }

    /// Speaks TLS with `tls`'s CA and client certificate (also when an address is `tls://`,
    /// with the system's roots). Call before first use.
    pub fn with_tls(mut self, tls: crate::BackendTls) -> NatsBroker {
        self.connector = self.connector.with_tls(tls, "--broker-tls");
        self
    }

    /// The connected client, connecting first if needed.
    async fn client(&self) -> Result<Client, Error> {
        self.connector.client().await.map_err(|err| match err {
            ConnectError::Config(message) => Error::new(ErrorKind::Config, message),
            ConnectError::Unavailable(err) => self.unavailable(err),
        })
    }

    fn unavailable(&self, err: impl Into<crate::BoxError>) -> Error {
        Error::unavailable("nats", self.connector.address(), err)
    }
}

impl Broker for NatsBroker {
    fn connect(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move { self.client().await.map(drop) })
    }

    fn disconnect(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let Some(client) = self.connector.take().await else {
                return Ok(());
            };
            // Draining ends every subscription (their tasks stop) and closes the connection.
            client.drain().await.map_err(|err| self.unavailable(err))
        })
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let client = self.client().await?;
            let mut message = message.clone();
            message
                .header
                .entry(TOPIC_HEADER.to_owned())
                .or_insert_with(|| topic.to_owned());
            client
                .publish(topic.to_owned(), message.to_json().into())
                .await
                .map_err(|err| match err.kind() {
                    PublishErrorKind::Send => self.unavailable(err),
                    _ => Error::new(
                        ErrorKind::InvalidMessage,
                        format!("cannot publish on {topic:?}: {err}"),
                    ),
                })?;
            // Publishing only queues the message; flushing hands it to the server.
            tokio::time::timeout(TIMEOUT, client.flush())
                .await
                .map_err(|_| self.unavailable("timed out handing the message to the server"))?
                .map_err(|err| self.unavailable(err))
        })
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        handler: Handler,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscriber, Error>> {
        Box::pin(async move {
            let client = self.client().await?;
            let subscription = match &options.queue {
                Some(queue) => {
                    client
                        .queue_subscribe(topic.to_owned(), queue.clone())
                        .await
                }
                None => client.subscribe(topic.to_owned()).await,
            }
            .map_err(|err| {
                Error::new(
                    ErrorKind::Config,
                    format!("cannot subscribe to {topic:?}: {err}"),
                )
            })?;
            // Once a message of ours came back, the server has the subscription too.
            tokio::time::timeout(TIMEOUT, round_trip(&client))
                .await
                .map_err(|_| self.unavailable("timed out subscribing"))?
                .map_err(|err| self.unavailable(err))?;
            let (stop, stopped) = oneshot::channel();
            let (done, unsubscribed) = oneshot::channel();
            let receiver = Receiver {
                topic: topic.to_owned(),
                handler,
                options: options.clone(),
                client,
            };
            tokio::spawn(receiver.run(subscription, stopped, done));
            Ok(Subscriber::new(topic, options, move || async move {
                if stop.send(()).is_ok() {
                    // The task confirms once NATS has the unsubscription; it is gone already
                    // when the broker disconnected.
                    let _ = unsubscribed.await;
                }
                Ok(())
            }))
        })
    }

    fn address(&self) -> String {
        self.connector.address().to_owned()
    }

    fn name(&self) -> &'static str {
        "nats"
    }
}

/// Sends a message to ourselves and waits for it: NATS handles a connection's commands in order.
async fn round_trip(client: &Client) -> Result<(), crate::BoxError> {
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await?;
    client.publish(inbox, bytes::Bytes::new()).await?;
    echo.next().await.ok_or("the connection closed")?;
    Ok(())
}

/// One subscription's task: decodes each message and runs the handler, one at a time.
struct Receiver {
    topic: String,
    handler: Handler,
    options: SubscribeOptions,
    client: Client,
}

impl Receiver {
    async fn run(
        self,
        mut subscription: async_nats::Subscriber,
        mut stop: oneshot::Receiver<()>,
        done: oneshot::Sender<()>,
    ) {
        loop {
            let next = tokio::select! {
                biased;
                _ = &mut stop => break,
                next = subscription.next() => next,
            };
            // `None`: the broker disconnected (drained the connection).
            let Some(nats_message) = next else { return };
            let message = match Message::from_json(&nats_message.payload) {
                Ok(message) => message,
                Err(err) => {
                    tracing::warn!(topic = %self.topic, error = %err, "skipping a NATS message that is not a go-micro broker message");
                    continue;
                }
            };
            let delivery = deliver(&self.handler, &self.topic, message, &self.options);
            tokio::pin!(delivery);
            let result = tokio::select! {
                result = &mut delivery => result,
                // Unsubscribed while handling (maybe by the handler itself): let it finish.
                _ = &mut stop => {
                    self.unsubscribe(subscription, done).await;
                    Self::report(&self.topic, delivery.await);
                    return;
                }
            };
            Self::report(&self.topic, result);
        }
        self.unsubscribe(subscription, done).await;
    }

    async fn unsubscribe(
        &self,
        mut subscription: async_nats::Subscriber,
        done: oneshot::Sender<()>,
    ) {
        let _ = subscription.unsubscribe().await;
        let _ = tokio::time::timeout(TIMEOUT, round_trip(&self.client)).await;
        let _ = done.send(());
    }

    fn report(topic: &str, result: Result<(), Error>) {
        if let Err(err) = result {
            tracing::warn!(%topic, error = %err, "NATS message not handled; core NATS will not deliver it again");
        }
    }
}
