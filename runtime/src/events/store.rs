//! Event history kept in memory, like go-micro's `events.NewStore`: per topic, oldest first,
//! each event kept until its TTL (if any) passes.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

use super::{BoxFuture, Error, Event, EventStore, ReadOptions, WriteOptions};

/// Stores events in this process. For tests and embedding; JetStream and Redis streams are
/// stores too, reading their streams' history.
#[derive(Debug, Default)]
pub struct MemoryEventStore {
    topics: Mutex<HashMap<String, Vec<Stored>>>,
}

#[derive(Debug)]
struct Stored {
    event: Event,
    expires: Option<Instant>,
}

impl MemoryEventStore {
    /// An empty store.
    pub fn new() -> MemoryEventStore {
        MemoryEventStore::default()
    }
}

impl EventStore for MemoryEventStore {
    fn read<'a>(
        &'a self,
        topic: &'a str,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<Event>, Error>> {
        let now = Instant::now();
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        let events = match topics.get_mut(topic) {
            Some(stored) => {
                stored.retain(|s| s.expires.is_none_or(|at| at > now));
                let page = stored.iter().skip(options.offset).take(options.limit);
                page.map(|s| s.event.detached()).collect()
            }
            None => Vec::new(),
        };
        Box::pin(async { Ok(events) })
    }

    fn write<'a>(
        &'a self,
        event: &'a Event,
        options: WriteOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let stored = Stored {
            event: event.detached(),
            expires: options.ttl.map(|ttl| Instant::now() + ttl),
        };
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        topics.entry(event.topic.clone()).or_default().push(stored);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn conformance() {
        super::super::conformance::run_store(Arc::new(MemoryEventStore::new())).await;
    }

    #[tokio::test(start_paused = true)]
    async fn events_are_forgotten_after_their_ttl() {
        let store = MemoryEventStore::new();
        let ttl = WriteOptions {
            ttl: Some(Duration::from_secs(60)),
        };
        store.write(&Event::new("t", "brief"), ttl).await.unwrap();
        store
            .write(&Event::new("t", "kept"), WriteOptions::default())
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        let left = store.read("t", ReadOptions::default()).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].payload, "kept");
    }
}
