//! An in-process broker: subscribers of one process, handled as the message is published.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::fanout::{deliver_to_all, recipients};
use super::{BoxFuture, Broker, Error, Handler, Message, SubscribeOptions, Subscriber, deliver};

/// Delivers within one process. `publish` returns once every subscriber that should have the
/// message handled it, or fails naming those that did not (after retries).
#[derive(Debug, Clone, Default)]
pub struct MemoryBroker {
    topics: Arc<Mutex<HashMap<String, Vec<Subscription>>>>,
}

#[derive(Clone)]
struct Subscription {
    id: u64,
    handler: Handler,
    options: SubscribeOptions,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new() -> MemoryBroker {
        MemoryBroker::default()
    }

    fn subscriptions(&self, topic: &str) -> Vec<Subscription> {
        let topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        topics.get(topic).cloned().unwrap_or_default()
    }
}

impl Broker for MemoryBroker {
    fn connect(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn disconnect(&self) -> BoxFuture<'_, Result<(), Error>> {
        self.topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Box::pin(async { Ok(()) })
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let subscriptions = self.subscriptions(topic);
        Box::pin(async move {
            let recipients = recipients(
                subscriptions
                    .into_iter()
                    .map(|sub| (sub.options.queue.clone(), sub)),
            );
            deliver_to_all(topic, recipients, |sub: Subscription| async move {
                deliver(&sub.handler, topic, message.clone(), &sub.options).await
            })
            .await
        })
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        handler: Handler,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscriber, Error>> {
        let id = fastrand::u64(..);
        let subscription = Subscription {
            id,
            handler,
            options: options.clone(),
        };
        self.topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(topic.to_owned())
            .or_default()
            .push(subscription);
        let topics = self.topics.clone();
        let owned_topic = topic.to_owned();
        Box::pin(async move {
            Ok(Subscriber::new(topic, options, move || async move {
                let mut topics = topics.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(subs) = topics.get_mut(&owned_topic) {
                    subs.retain(|sub| sub.id != id);
                }
                Ok(())
            }))
        })
    }

    fn address(&self) -> String {
        "memory".to_owned()
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        super::super::conformance::run(Arc::new(MemoryBroker::new())).await;
    }
}
