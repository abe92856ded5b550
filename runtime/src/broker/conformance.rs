//! The behaviour every [`Broker`] backend must have, as one suite to run against each.
//!
//! ```no_run
//! # async fn demo() {
//! micro::broker::conformance::run(micro::broker::memory()).await;
//! # }
//! ```
//!
//! It panics with a description of the first behaviour that is wrong. Topics are unique per
//! run, so several runs may share one server. Subscriptions may take a moment to reach the
//! backend (a NATS server, a registry), so each check first publishes probes until every
//! subscriber has seen one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Broker, Message, SubscribeOptions, Subscriber, handler};

/// How long a backend may take to deliver, or to start delivering to a new subscriber.
const DELIVERY: Duration = Duration::from_secs(10);

/// Header marking warm-up messages, which checks do not count.
const PROBE: &str = "Conformance-Probe";

/// Runs every check against `broker`.
pub async fn run(broker: Arc<dyn Broker>) {
    let run = Run {
        broker,
        prefix: format!(
            "conformance-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
    };
    run.every_subscriber_gets_every_message().await;
    run.a_queue_group_gets_each_message_once().await;
    run.topics_are_separate().await;
    run.a_failing_handler_keeps_its_subscription().await;
    run.unsubscribed_handlers_get_nothing().await;
}

struct Run {
    broker: Arc<dyn Broker>,
    prefix: String,
}

/// A subscription whose handler forwards the messages it counts.
struct Inbox {
    subscriber: Subscriber,
    messages: mpsc::UnboundedReceiver<Message>,
    probes: Arc<AtomicUsize>,
}

impl Run {
    fn topic(&self, check: &str) -> String {
        format!("{}-{check}", self.prefix)
    }

    async fn subscribe(&self, topic: &str, options: SubscribeOptions) -> Inbox {
        self.subscribe_failing_first(topic, options, 0).await
    }

    /// A subscription whose handler fails its first `failures` counted messages.
    async fn subscribe_failing_first(
        &self,
        topic: &str,
        options: SubscribeOptions,
        failures: usize,
    ) -> Inbox {
        let (tx, messages) = mpsc::unbounded_channel();
        let probes = Arc::new(AtomicUsize::new(0));
        let seen_probes = probes.clone();
        let failed = Arc::new(AtomicUsize::new(0));
        let handler = handler(move |event| {
            let message = event.message().clone();
            let outcome = if message.header.contains_key(PROBE) {
                seen_probes.fetch_add(1, Ordering::Relaxed);
                Ok(())
            } else if failed.fetch_add(1, Ordering::Relaxed) < failures {
                Err("failing on purpose".into())
            } else {
                let _ = tx.send(message);
                Ok(())
            };
            async move { outcome }
        });
        match self.broker.subscribe(topic, handler, options).await {
            Ok(subscriber) => Inbox {
                subscriber,
                messages,
                probes,
            },
            Err(err) => panic!("broker conformance: subscribing to {topic} failed: {err}"),
        }
    }

    async fn publish(&self, topic: &str, message: &Message) {
        if let Err(err) = self.broker.publish(topic, message).await {
            panic!("broker conformance: publishing to {topic} failed: {err}");
        }
    }

    async fn publish_numbered(&self, topic: &str, count: usize) {
        for n in 0..count {
            self.publish(topic, &numbered(n)).await;
        }
    }

    /// Publishes probes to `topic` until every inbox has seen one.
    async fn warm_up(&self, topic: &str, inboxes: &[&Inbox]) {
        let deadline = tokio::time::Instant::now() + DELIVERY;
        while inboxes
            .iter()
            .any(|inbox| inbox.probes.load(Ordering::Relaxed) == 0)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "broker conformance: subscribers to {topic} got no message within {DELIVERY:?}"
            );
            let _ = self
                .broker
                .publish(topic, &Message::new("probe").header(PROBE, "1"))
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn every_subscriber_gets_every_message(&self) {
        let topic = self.topic("broadcast");
        let mut a = self.subscribe(&topic, SubscribeOptions::default()).await;
        let mut b = self.subscribe(&topic, SubscribeOptions::default()).await;
        self.warm_up(&topic, &[&a, &b]).await;
        self.publish_numbered(&topic, 10).await;
        for inbox in [&mut a, &mut b] {
            let numbers = receive(inbox, 10, &topic).await;
            assert_eq!(
                numbers.len(),
                10,
                "broker conformance: a broadcast subscriber missed messages"
            );
        }
        let message = receive_none_within(&mut a, Duration::from_millis(200)).await;
        assert!(
            message.is_none(),
            "broker conformance: a message arrived twice: {message:?}"
        );
    }

    async fn a_queue_group_gets_each_message_once(&self) {
        let topic = self.topic("queue");
        let queue = || SubscribeOptions::default().queue("workers");
        let mut first = self.subscribe(&topic, queue()).await;
        let mut second = self.subscribe(&topic, queue()).await;
        let mut watcher = self.subscribe(&topic, SubscribeOptions::default()).await;
        self.warm_up(&topic, &[&first, &second, &watcher]).await;
        self.publish_numbered(&topic, 20).await;
        assert_eq!(
            receive(&mut watcher, 20, &topic).await.len(),
            20,
            "broker conformance: a broadcast subscriber beside a queue group missed messages"
        );
        let mut numbers = drain(&mut first).await;
        numbers.extend(drain(&mut second).await);
        numbers.sort_unstable();
        assert_eq!(
            numbers,
            (0..20).collect::<Vec<_>>(),
            "broker conformance: a queue group did not get each message exactly once"
        );
    }

    async fn topics_are_separate(&self) {
        let (one, two) = (self.topic("one"), self.topic("two"));
        let mut inbox = self.subscribe(&one, SubscribeOptions::default()).await;
        self.warm_up(&one, &[&inbox]).await;
        self.publish_numbered(&two, 3).await;
        self.publish(&one, &numbered(7)).await;
        let numbers = receive(&mut inbox, 1, &one).await;
        assert_eq!(
            numbers,
            [7],
            "broker conformance: a message on {two} reached a subscriber of {one}"
        );
    }

    async fn a_failing_handler_keeps_its_subscription(&self) {
        let topic = self.topic("failing");
        let mut inbox = self
            .subscribe_failing_first(&topic, SubscribeOptions::default(), 1)
            .await;
        self.warm_up(&topic, &[&inbox]).await;
        let _ = self.broker.publish(&topic, &numbered(0)).await;
        self.publish(&topic, &numbered(1)).await;
        // Message 0 may be redelivered once the handler works (HTTP and memory retry); 1 must come.
        let mut numbers = receive(&mut inbox, 1, &topic).await;
        if numbers == [0] {
            numbers = receive(&mut inbox, 1, &topic).await;
        }
        assert_eq!(
            numbers,
            [1],
            "broker conformance: a handler error ended its subscription"
        );
    }

    async fn unsubscribed_handlers_get_nothing(&self) {
        let topic = self.topic("unsubscribe");
        let mut inbox = self.subscribe(&topic, SubscribeOptions::default()).await;
        self.warm_up(&topic, &[&inbox]).await;
        let Inbox {
            subscriber,
            messages,
            ..
        } = inbox;
        if let Err(err) = subscriber.unsubscribe().await {
            panic!("broker conformance: unsubscribing from {topic} failed: {err}");
        }
        inbox = Inbox {
            subscriber: Subscriber::new(&topic, SubscribeOptions::default(), || async { Ok(()) }),
            messages,
            probes: Arc::default(),
        };
        let _ = self.broker.publish(&topic, &numbered(1)).await;
        let message = receive_none_within(&mut inbox, Duration::from_millis(300)).await;
        assert!(
            message.is_none(),
            "broker conformance: a message reached an unsubscribed handler"
        );
    }
}

/// The numbers (header `N`) of the next `count` messages, in arrival order.
async fn receive(inbox: &mut Inbox, count: usize, topic: &str) -> Vec<usize> {
    let mut numbers = Vec::with_capacity(count);
    while numbers.len() < count {
        match tokio::time::timeout(DELIVERY, inbox.messages.recv()).await {
            Ok(Some(message)) => numbers.push(number(&message)),
            _ => panic!(
                "broker conformance: {} of {count} messages on {topic} arrived within {DELIVERY:?} ({numbers:?}; subscriber {:?})",
                numbers.len(),
                inbox.subscriber
            ),
        }
    }
    numbers
}

/// The numbers of the messages that arrive until none has for a moment.
async fn drain(inbox: &mut Inbox) -> Vec<usize> {
    let mut numbers = Vec::new();
    while let Some(message) = receive_none_within(inbox, Duration::from_millis(500)).await {
        numbers.push(number(&message));
    }
    numbers
}

async fn receive_none_within(inbox: &mut Inbox, wait: Duration) -> Option<Message> {
    tokio::time::timeout(wait, inbox.messages.recv())
        .await
        .ok()
        .flatten()
}

fn number(message: &Message) -> usize {
    let n = message.header.get("N").and_then(|n| n.parse().ok());
    let n = n.unwrap_or_else(|| panic!("broker conformance: header N lost: {message:?}"));
    assert_eq!(
        message.body,
        numbered(n).body,
        "broker conformance: the body of message {n} changed on the way"
    );
    n
}

/// Message `n`: header `N` and a body with bytes that are not UTF-8 text.
fn numbered(n: usize) -> Message {
    let mut body = n.to_string().into_bytes();
    body.extend_from_slice(&[0, 0xff, 0xfe]);
    Message::new(body).header("N", n.to_string())
}
