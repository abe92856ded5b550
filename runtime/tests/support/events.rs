//! Helpers for the event stream backends' tests: waiting for events, reading payloads, and
//! capturing log lines.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use micro::events::{Consumer, Event};

/// The next event within `within`, panicking with `what` otherwise.
pub async fn next(consumer: &mut Consumer, within: Duration, what: &str) -> Event {
    match tokio::time::timeout(within, consumer.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the consumer ended while waiting for {what}"),
        Err(_) => panic!("{what} did not arrive within {within:?}"),
    }
}

pub fn text(event: &Event) -> String {
    String::from_utf8_lossy(&event.payload).into_owned()
}

/// Log lines, as `tracing`'s formatter writes them, for assertions about warnings.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Captures this thread's logs (a `#[tokio::test]` runs its tasks on it) while the guard lives.
    pub fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The consumer a publishing drill reads with: group `drill`, from the start, acked by hand.
#[allow(dead_code)] // not every test file that shares this module runs drills
pub fn drill_group() -> micro::events::ConsumeOptions {
    micro::events::ConsumeOptions::default()
        .group("drill")
        .offset(micro::events::Offset::Start)
        .manual_ack()
        .ack_wait(Duration::from_secs(2))
}

/// What a publishing drill saw: events acknowledged to publishers, publishes that failed, and
/// deliveries of an event already delivered.
#[derive(Debug)]
pub struct Drill {
    pub acked: usize,
    pub failed: usize,
    pub redelivered: usize,
}

/// Publishes on `topic` from two tasks (at most 3,000 events each) while `outage` runs (it
/// breaks and mends the backend), then reads `consumer` (a manual-ack group reading from the
/// start) until every acknowledged event has been delivered. Every failed publish must be
/// `Unavailable`, and some must fail (the outage was felt).
#[allow(dead_code)] // not every test file that shares this module runs drills
pub async fn publish_through<S: micro::events::EventStream>(
    stream: Arc<S>,
    topic: &str,
    consumer: &mut Consumer,
    outage: impl FnOnce(),
) -> Drill {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};

    let stop = Arc::new(AtomicBool::new(false));
    let publishers: Vec<_> = (0..2)
        .map(|publisher| {
            let (stream, stop, topic) = (stream.clone(), stop.clone(), topic.to_owned());
            tokio::spawn(async move {
                let (mut acked, mut failed) = (Vec::new(), 0);
                for n in 0..3_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let payload = format!("p{publisher}-{n}");
                    let options = micro::events::PublishOptions::default();
                    match stream
                        .publish(&topic, payload.clone().into(), options)
                        .await
                    {
                        Ok(()) => acked.push(payload),
                        Err(err) => {
                            assert_eq!(err.kind(), micro::events::ErrorKind::Unavailable, "{err}");
                            failed += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                (acked, failed)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    outage();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut acked, mut failed) = (BTreeSet::new(), 0);
    for publisher in publishers {
        let (payloads, failures) = publisher.await.unwrap();
        acked.extend(payloads);
        failed += failures;
    }
    let (mut delivered, mut redelivered) = (BTreeSet::new(), 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !acked.is_subset(&delivered) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} acknowledged events never delivered, e.g. {:?}",
            acked.difference(&delivered).count(),
            acked.difference(&delivered).next()
        );
        let event = next(consumer, Duration::from_secs(15), "the drill's events").await;
        if !delivered.insert(text(&event)) {
            redelivered += 1;
        }
        event.ack().await.unwrap();
    }
    let drill = Drill {
        acked: acked.len(),
        failed,
        redelivered,
    };
    eprintln!("{drill:?}");
    drill
}
