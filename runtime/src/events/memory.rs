//! An in-process stream: every topic is a log in memory, every group a cursor into it with the
//! deliveries it is waiting to see acked.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    Acknowledge, BoxFuture, ConsumeOptions, Consumer, Error, Event, EventStream, Offset,
    PublishOptions,
};

/// Events kept in this process, delivered at least once per group like the durable backends.
/// Nothing survives a restart, and topics grow until the stream is dropped: for tests,
/// development and embedding.
#[derive(Debug, Clone, Default)]
pub struct MemoryStream {
    topics: Arc<Mutex<HashMap<String, Arc<Topic>>>>,
}

#[derive(Debug, Default)]
struct Topic {
    state: Mutex<TopicState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct TopicState {
    log: Vec<Record>,
    groups: HashMap<String, Group>,
}

/// An event as stored.
#[derive(Debug, Clone)]
struct Record {
    id: String,
    timestamp: SystemTime,
    metadata: BTreeMap<String, String>,
    payload: Bytes,
}

#[derive(Debug, Default)]
struct Group {
    /// The next log index never delivered to this group.
    next: usize,
    /// Deliveries awaiting an ack, by log index.
    pending: BTreeMap<usize, Pending>,
    /// Log indexes to deliver again, in order.
    redeliver: VecDeque<usize>,
    /// Deliveries so far, by log index.
    attempts: HashMap<usize, u32>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    deadline: Instant,
    retry_limit: Option<u32>,
}

impl MemoryStream {
    /// An empty stream.
    pub fn new() -> MemoryStream {
        MemoryStream::default()
    }

    fn topic(&self, name: &str) -> Arc<Topic> {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        topics.entry(name.to_owned()).or_default().clone()
    }
}

impl EventStream for MemoryStream {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        payload: Bytes,
        options: PublishOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let event = options.event(topic, payload);
        let shared = self.topic(topic);
        shared.lock().log.push(Record {
            id: event.id.clone(),
            timestamp: event.timestamp,
            metadata: event.metadata.clone(),
            payload: event.payload.clone(),
        });
        shared.changed.notify_waiters();
        Box::pin(async { Ok(()) })
    }

    fn consume<'a>(
        &'a self,
        topic: &'a str,
        options: ConsumeOptions,
    ) -> BoxFuture<'a, Result<Consumer, Error>> {
        Box::pin(async move {
            options.validate()?;
            let group = options
                .group
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let shared = self.topic(topic);
            shared.lock().join(&group, options.offset);
            let cursor = Cursor {
                topic: topic.to_owned(),
                shared,
                group,
                options,
            };
            let events = futures_util::stream::unfold(cursor, |cursor| async move {
                let event = cursor.next().await;
                Some((event, cursor))
            });
            Ok(Consumer::new(events))
        })
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

impl Topic {
    fn lock(&self) -> std::sync::MutexGuard<'_, TopicState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TopicState {
    /// Creates `group` if it is new, starting at `offset`.
    fn join(&mut self, group: &str, offset: Offset) {
        if self.groups.contains_key(group) {
            return;
        }
        let next = match offset {
            Offset::New => self.log.len(),
            Offset::Start => 0,
            Offset::Time(time) => self.log.partition_point(|r| r.timestamp < time),
        };
        self.groups.insert(
            group.to_owned(),
            Group {
                next,
                ..Group::default()
            },
        );
    }

    /// The next log index due for `group`, marked pending; or when to look again.
    fn take(
        &mut self,
        group: &str,
        options: &ConsumeOptions,
        topic: &str,
    ) -> Result<(usize, u32), Option<Instant>> {
        let now = Instant::now();
        let log_len = self.log.len();
        let Some(group) = self.groups.get_mut(group) else {
            return Err(None);
        };
        group.expire(now, topic);
        let index = match group.redeliver.pop_front() {
            Some(index) => index,
            None if group.next < log_len => {
                group.next += 1;
                group.next - 1
            }
            None => return Err(group.pending.values().map(|p| p.deadline).min()),
        };
        let attempt = group.attempts.entry(index).or_insert(0);
        *attempt += 1;
        let attempt = *attempt;
        group.pending.insert(
            index,
            Pending {
                deadline: now + options.ack_wait,
                retry_limit: options.retry_limit,
            },
        );
        Ok((index, attempt))
    }
}

impl Group {
    /// Deliveries past their ack deadline are due again (or given up at their retry limit).
    fn expire(&mut self, now: Instant, topic: &str) {
        let expired: Vec<usize> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(&i, _)| i)
            .collect();
        for index in expired {
            self.settle(index, false, topic);
        }
    }

    /// Acks (`ok`) or gives back the delivery of `index`.
    fn settle(&mut self, index: usize, ok: bool, topic: &str) {
        let Some(pending) = self.pending.remove(&index) else {
            return;
        };
        let attempts = self.attempts.get(&index).copied().unwrap_or(0);
        let exhausted = pending.retry_limit.is_some_and(|limit| attempts > limit);
        if ok || exhausted {
            self.attempts.remove(&index);
        }
        if !ok && exhausted {
            tracing::warn!(
                topic,
                index,
                attempts,
                "event given up after its retry limit"
            );
        } else if !ok {
            let at = self.redeliver.partition_point(|&i| i < index);
            self.redeliver.insert(at, index);
        }
    }
}

/// One consumer's place: its topic and group.
struct Cursor {
    topic: String,
    shared: Arc<Topic>,
    group: String,
    options: ConsumeOptions,
}

impl Cursor {
    async fn next(&self) -> Event {
        loop {
            let mut changed = pin!(self.shared.changed.notified());
            changed.as_mut().enable();
            let wake_at = {
                let mut state = self.shared.lock();
                match state.take(&self.group, &self.options, &self.topic) {
                    Ok((index, attempt)) => return self.event(&state.log[index], index, attempt),
                    Err(wake_at) => wake_at,
                }
            };
            match wake_at {
                Some(at) => {
                    let _ = tokio::time::timeout_at(at, changed).await;
                }
                None => changed.await,
            }
        }
    }

    fn event(&self, record: &Record, index: usize, attempt: u32) -> Event {
        let mut event = Event::new(self.topic.clone(), record.payload.clone());
        event.id = record.id.clone();
        event.timestamp = record.timestamp;
        event.metadata = record.metadata.clone();
        let ack = MemoryAck {
            shared: self.shared.clone(),
            group: self.group.clone(),
            topic: self.topic.clone(),
            index,
        };
        event.with_ack(ack, self.options.auto_ack, attempt)
    }
}

struct MemoryAck {
    shared: Arc<Topic>,
    group: String,
    topic: String,
    index: usize,
}

impl MemoryAck {
    fn settle(&self, ok: bool) -> BoxFuture<'static, Result<(), Error>> {
        if let Some(group) = self.shared.lock().groups.get_mut(&self.group) {
            group.settle(self.index, ok, &self.topic);
        }
        self.shared.changed.notify_waiters();
        Box::pin(async { Ok(()) })
    }
}

impl Acknowledge for MemoryAck {
    fn ack(&self) -> BoxFuture<'static, Result<(), Error>> {
        self.settle(true)
    }

    fn nack(&self) -> BoxFuture<'static, Result<(), Error>> {
        self.settle(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        super::super::conformance::run(Arc::new(MemoryStream::new())).await;
    }
}
