//! The behaviour every [`EventStream`] backend must have, as one suite to run against each.
//!
//! ```no_run
//! # async fn demo() {
//! micro::events::conformance::run(micro::events::memory()).await;
//! # }
//! ```
//!
//! It panics with a description of the first behaviour that is wrong. Topics and groups are
//! unique per run, so several runs may share one server. It takes about ten seconds: redelivery
//! after `ack_wait` is checked with a one-second wait.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{
    ConsumeOptions, Consumer, ErrorKind, Event, EventStore, EventStream, Offset, PublishOptions,
    ReadOptions, WriteOptions,
};

/// How long a backend may take to deliver an event that is due.
const DELIVERY: Duration = Duration::from_secs(10);

/// The `ack_wait` of checks that wait for a redelivery.
const ACK_WAIT: Duration = Duration::from_secs(1);

/// Runs every check against `stream`.
pub async fn run(stream: Arc<dyn EventStream>) {
    let run = Run {
        stream,
        prefix: format!(
            "conformance-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
    };
    run.publish_n_consume_n_in_order().await;
    run.new_offset_skips_earlier_events().await;
    run.offset_replays_from_start_and_from_a_time().await;
    run.nack_redelivers().await;
    run.unacked_event_is_redelivered_after_ack_wait().await;
    run.auto_ack_acks_handled_events().await;
    run.retry_limit_is_honoured().await;
    run.groups_each_get_everything().await;
    run.one_group_splits_the_work_without_duplicates().await;
    run.consumer_dropped_mid_batch_loses_nothing().await;
    run.bad_options_are_refused().await;
}

/// Runs every check of the history contract against `store`: what is written is read back in
/// order, with its id, timestamp, metadata and payload, a page at a time, per topic.
pub async fn run_store(store: Arc<dyn EventStore>) {
    let topic = format!(
        "conformance-store-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let read = |topic: String, limit, offset| {
        let store = store.clone();
        async move {
            match store.read(&topic, ReadOptions { limit, offset }).await {
                Ok(events) => events,
                Err(err) => panic!("events store conformance: reading {topic} failed: {err}"),
            }
        }
    };
    assert!(
        read(topic.clone(), 10, 0).await.is_empty(),
        "events store conformance: an unknown topic has events"
    );
    let mut written = Vec::new();
    for n in 0..5 {
        let mut event = PublishOptions::default()
            .metadata("n", n.to_string())
            .event(&topic, Bytes::from(n.to_string()));
        event.timestamp -= Duration::from_secs(10 - n);
        if let Err(err) = store.write(&event, WriteOptions::default()).await {
            panic!("events store conformance: writing to {topic} failed: {err}");
        }
        written.push(event);
    }
    let all = read(topic.clone(), 250, 0).await;
    let fields = |e: &Event| {
        (
            e.id.clone(),
            e.topic.clone(),
            e.timestamp,
            e.metadata.clone(),
            e.payload.clone(),
        )
    };
    assert_eq!(
        all.iter().map(fields).collect::<Vec<_>>(),
        written.iter().map(fields).collect::<Vec<_>>(),
        "events store conformance: events read back differ from those written"
    );
    let page: Vec<String> = read(topic.clone(), 2, 1)
        .await
        .iter()
        .map(payload)
        .collect();
    assert_eq!(
        page,
        ["1", "2"],
        "events store conformance: limit 2, offset 1"
    );
    assert!(
        read(format!("{topic}-other"), 10, 0).await.is_empty(),
        "events store conformance: topics are not separate"
    );
}

struct Run {
    stream: Arc<dyn EventStream>,
    prefix: String,
}

impl Run {
    fn topic(&self, check: &str) -> String {
        format!("{}-{check}", self.prefix)
    }

    async fn publish(&self, topic: &str, payload: &str) {
        let options = PublishOptions::default().metadata("check", topic);
        if let Err(err) = self
            .stream
            .publish(topic, Bytes::from(payload.to_owned()), options)
            .await
        {
            panic!("events conformance: publishing to {topic} failed: {err}");
        }
    }

    async fn publish_numbered(&self, topic: &str, range: std::ops::Range<usize>) {
        for n in range {
            self.publish(topic, &n.to_string()).await;
        }
    }

    async fn consume(&self, topic: &str, options: ConsumeOptions) -> Consumer {
        match self.stream.consume(topic, options).await {
            Ok(consumer) => consumer,
            Err(err) => panic!("events conformance: consuming {topic} failed: {err}"),
        }
    }

    async fn publish_n_consume_n_in_order(&self) {
        let topic = self.topic("basic");
        let before = SystemTime::now() - Duration::from_secs(1);
        self.publish_numbered(&topic, 0..20).await;
        let options = ConsumeOptions::default().offset(Offset::Start).manual_ack();
        let mut consumer = self.consume(&topic, options).await;
        let mut ids = BTreeSet::new();
        for n in 0..20 {
            let event = next(&mut consumer, &format!("event {n} of 20 on {topic}")).await;
            assert_eq!(
                payload(&event),
                n.to_string(),
                "events conformance: events out of order"
            );
            assert_eq!(event.topic, topic, "events conformance: wrong topic");
            assert_eq!(
                event.metadata.get("check").map(String::as_str),
                Some(topic.as_str()),
                "events conformance: metadata lost"
            );
            assert!(
                event.timestamp >= before,
                "events conformance: timestamp lost"
            );
            assert_eq!(
                event.attempt(),
                1,
                "events conformance: a first delivery has attempt 1"
            );
            ids.insert(event.id.clone());
            ack(event).await;
        }
        assert_eq!(
            ids.len(),
            20,
            "events conformance: event ids are not unique"
        );
        nothing_within(
            &mut consumer,
            Duration::from_millis(300),
            "after all 20 were acked",
        )
        .await;
    }

    async fn new_offset_skips_earlier_events(&self) {
        let topic = self.topic("new");
        self.publish(&topic, "old").await;
        let mut consumer = self.consume(&topic, ConsumeOptions::default()).await;
        self.publish(&topic, "new").await;
        let event = next(&mut consumer, "the event published after consume").await;
        assert_eq!(
            payload(&event),
            "new",
            "events conformance: Offset::New delivered an older event"
        );
    }

    async fn offset_replays_from_start_and_from_a_time(&self) {
        let topic = self.topic("offset");
        self.publish_numbered(&topic, 0..5).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let middle = SystemTime::now();
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.publish_numbered(&topic, 5..10).await;

        let mut all = self
            .consume(&topic, ConsumeOptions::default().offset(Offset::Start))
            .await;
        let from_start = take(&mut all, 10, "replay from the start").await;
        assert_eq!(
            from_start,
            numbers(0..10),
            "events conformance: Offset::Start replay"
        );

        let mut later = self
            .consume(
                &topic,
                ConsumeOptions::default().offset(Offset::Time(middle)),
            )
            .await;
        let from_time = take(&mut later, 5, "replay from a time").await;
        assert_eq!(
            from_time,
            numbers(5..10),
            "events conformance: Offset::Time replay"
        );
        nothing_within(
            &mut later,
            Duration::from_millis(300),
            "after replaying from a time",
        )
        .await;
    }

    async fn nack_redelivers(&self) {
        let topic = self.topic("nack");
        let options = ConsumeOptions::default()
            .group(self.topic("nack-group"))
            .manual_ack();
        let mut consumer = self.consume(&topic, options).await;
        self.publish(&topic, "again").await;
        let first = next(&mut consumer, "the event to nack").await;
        let id = first.id.clone();
        nack(first).await;
        let second = next(&mut consumer, "the nacked event again").await;
        assert_eq!(
            second.id, id,
            "events conformance: a nacked event was not redelivered"
        );
        assert_eq!(
            second.attempt(),
            2,
            "events conformance: a redelivery has attempt 2"
        );
        ack(second).await;
    }

    async fn unacked_event_is_redelivered_after_ack_wait(&self) {
        let topic = self.topic("ack-wait");
        let options = ConsumeOptions::default().manual_ack().ack_wait(ACK_WAIT);
        let mut consumer = self.consume(&topic, options).await;
        self.publish(&topic, "slow").await;
        let first = next(&mut consumer, "the event to leave unacked").await;
        let id = first.id.clone();
        drop(first);
        let again = next(&mut consumer, "the unacked event after ack_wait").await;
        assert_eq!(
            again.id, id,
            "events conformance: an unacked event was not redelivered"
        );
        assert!(
            again.attempt() >= 2,
            "events conformance: a redelivery has attempt ≥ 2"
        );
        ack(again).await;
    }

    async fn auto_ack_acks_handled_events(&self) {
        let topic = self.topic("auto-ack");
        let options = ConsumeOptions::default().ack_wait(ACK_WAIT);
        let mut consumer = self.consume(&topic, options).await;
        self.publish(&topic, "handled").await;
        drop(next(&mut consumer, "the auto-acked event").await);
        nothing_within(
            &mut consumer,
            ACK_WAIT * 3,
            "after an auto-acked event was handled",
        )
        .await;
    }

    async fn retry_limit_is_honoured(&self) {
        let topic = self.topic("retry-limit");
        let options = ConsumeOptions::default()
            .manual_ack()
            .ack_wait(ACK_WAIT)
            .retry_limit(1);
        let mut consumer = self.consume(&topic, options).await;
        self.publish(&topic, "poison").await;
        nack(next(&mut consumer, "the poison event").await).await;
        let retry = next(&mut consumer, "the poison event's one retry").await;
        assert_eq!(payload(&retry), "poison");
        nack(retry).await;
        nothing_within(
            &mut consumer,
            ACK_WAIT * 3,
            "after the retry limit (1) was used up",
        )
        .await;
    }

    async fn groups_each_get_everything(&self) {
        let topic = self.topic("groups");
        let mut a = self
            .consume(&topic, ConsumeOptions::default().group("a"))
            .await;
        let mut b = self
            .consume(&topic, ConsumeOptions::default().group("b"))
            .await;
        self.publish_numbered(&topic, 0..10).await;
        assert_eq!(take(&mut a, 10, "group a's events").await, numbers(0..10));
        assert_eq!(take(&mut b, 10, "group b's events").await, numbers(0..10));
    }

    async fn one_group_splits_the_work_without_duplicates(&self) {
        let topic = self.topic("split");
        let group = || ConsumeOptions::default().group("workers");
        let first = self.consume(&topic, group()).await;
        let second = self.consume(&topic, group()).await;
        let workers = [first, second].map(|consumer| tokio::spawn(work(consumer)));
        for n in 0..40 {
            self.publish(&topic, &n.to_string()).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut seen = Vec::new();
        let mut per_worker = Vec::new();
        for worker in workers {
            let got = worker.await.expect("a worker task");
            per_worker.push(got.len());
            seen.extend(got);
        }
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..40).collect::<Vec<_>>(),
            "events conformance: a group of two did not get each event exactly once"
        );
        assert!(
            per_worker.iter().all(|&n| n > 0),
            "events conformance: one member of the group got no work: {per_worker:?}"
        );
    }

    async fn consumer_dropped_mid_batch_loses_nothing(&self) {
        let topic = self.topic("crash");
        let group = || {
            ConsumeOptions::default()
                .group("crash")
                .manual_ack()
                .ack_wait(ACK_WAIT)
        };
        self.publish_numbered(&topic, 0..30).await;
        let mut doomed = self.consume(&topic, group().offset(Offset::Start)).await;
        let mut acked = BTreeSet::new();
        for _ in 0..10 {
            let event = next(&mut doomed, "an event for the doomed consumer").await;
            let n = payload(&event);
            if acked.len() < 5 {
                acked.insert(n);
                ack(event).await;
            }
        }
        drop(doomed);
        let mut survivor = self.consume(&topic, group()).await;
        while acked.len() < 30 {
            let event = next(
                &mut survivor,
                &format!("event {} of 30 after a consumer died", acked.len() + 1),
            )
            .await;
            acked.insert(payload(&event));
            ack(event).await;
        }
        let expected: BTreeSet<String> = numbers(0..30).into_iter().collect();
        assert_eq!(
            acked, expected,
            "events conformance: events lost when a consumer died"
        );
    }

    async fn bad_options_are_refused(&self) {
        let options = ConsumeOptions::default().ack_wait(Duration::ZERO);
        match self.stream.consume(&self.topic("bad"), options).await {
            Err(err) => assert_eq!(err.kind(), ErrorKind::Config, "events conformance: {err}"),
            Ok(_) => panic!("events conformance: ack_wait 0 was accepted"),
        }
    }
}

/// Takes events until none comes for two seconds, acking each; returns their numbers.
async fn work(mut consumer: Consumer) -> Vec<usize> {
    let mut got = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), consumer.next()).await
    {
        got.push(payload(&event).parse().expect("a numbered event"));
        // Longer than the publisher's pause between events, so that the other member is the
        // free one when the next event comes, however the scheduler orders the wake-ups.
        tokio::time::sleep(Duration::from_millis(15)).await;
        ack(event).await;
    }
    got
}

async fn next(consumer: &mut Consumer, what: &str) -> Event {
    match tokio::time::timeout(DELIVERY, consumer.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("events conformance: the consumer ended while waiting for {what}"),
        Err(_) => panic!("events conformance: {what} did not arrive within {DELIVERY:?}"),
    }
}

async fn nothing_within(consumer: &mut Consumer, wait: Duration, when: &str) {
    if let Ok(Some(event)) = tokio::time::timeout(wait, consumer.next()).await {
        panic!("events conformance: an event arrived {when}: {event:?}");
    }
}

async fn take(consumer: &mut Consumer, count: usize, what: &str) -> Vec<String> {
    let mut payloads = Vec::with_capacity(count);
    for n in 0..count {
        let event = next(consumer, &format!("{what} ({n} of {count})")).await;
        payloads.push(payload(&event));
        ack(event).await;
    }
    payloads
}

async fn ack(event: Event) {
    if let Err(err) = event.ack().await {
        panic!("events conformance: ack failed: {err}");
    }
}

async fn nack(event: Event) {
    if let Err(err) = event.nack().await {
        panic!("events conformance: nack failed: {err}");
    }
}

fn payload(event: &Event) -> String {
    String::from_utf8_lossy(&event.payload).into_owned()
}

fn numbers(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| n.to_string()).collect()
}
