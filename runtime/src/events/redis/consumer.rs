//! Consuming a stream as a member of a consumer group: a background task reads new entries,
//! claims entries left idle for `ack_wait`, and hands them on; acks and nacks go to Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::{RedisError, RedisResult};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use super::{Connection, RESPONSE_TIMEOUT, key, parse};
use crate::events::{Acknowledge, BoxFuture, ConsumeOptions, Consumer, Error, Event, Offset};

/// How long one `XREADGROUP` waits for new entries: bounds how late a nack is redelivered.
const BLOCK: Duration = Duration::from_millis(500);
/// Entries read or claimed at once, and events buffered per consumer.
const BATCH: usize = 16;
/// The idle time a nack gives an entry, so that the next claim takes it at once. Redis treats
/// an idle time reaching back before the epoch as zero, hence a year, not `u64::MAX`.
const NACKED_IDLE_MS: u64 = 365 * 24 * 3600 * 1000;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Joins (creating it if needed) the consumer group and starts delivering.
pub(super) async fn start(
    connection: &Arc<Connection>,
    topic: &str,
    options: ConsumeOptions,
) -> Result<Consumer, Error> {
    options.validate()?;
    let (group, temporary) = match options.group {
        Some(group) => (group, false),
        None => (uuid::Uuid::new_v4().to_string(), true),
    };
    let target = Arc::new(AckTarget {
        connection: connection.clone(),
        key: key(topic),
        group,
        consumer: uuid::Uuid::new_v4().to_string(),
        nacked: AtomicBool::new(false),
    });
    let worker = Worker {
        connection: Connection::new(connection.client.clone(), BLOCK + RESPONSE_TIMEOUT),
        target: target.clone(),
        start_id: start_id(options.offset),
        ack_wait: options.ack_wait,
        retry_limit: options.retry_limit,
        temporary,
    };
    worker.create_group().await?;
    let (tx, rx) = mpsc::channel(BATCH);
    tokio::spawn(worker.run(tx));
    let auto_ack = options.auto_ack;
    // The acknowledgement is attached as the user takes an event: events still buffered when
    // the consumer is dropped are neither acked (auto-ack) nor lost, only claimed later.
    let events = ReceiverStream::new(rx).map(move |delivery: Delivery| {
        let ack = RedisAck {
            target: target.clone(),
            id: delivery.id,
        };
        delivery.event.with_ack(ack, auto_ack, delivery.attempt)
    });
    Ok(Consumer::new(events))
}

/// The `XGROUP CREATE` id for `offset`: the last entry the new group counts as delivered.
fn start_id(offset: Offset) -> String {
    match offset {
        Offset::New => "$".to_owned(),
        Offset::Start => "0".to_owned(),
        // Entry ids start with the millisecond they were added: deliver that millisecond on.
        Offset::Time(time) => match time.duration_since(UNIX_EPOCH).map(|d| d.as_millis()) {
            Ok(millis) if millis > 0 => format!("{}-{}", millis - 1, u64::MAX),
            _ => "0".to_owned(),
        },
    }
}

/// Where a consumer's deliveries are acked: its stream, group and name.
struct AckTarget {
    connection: Arc<Connection>,
    key: String,
    group: String,
    consumer: String,
    /// Set by a nack: the consumer claims idle entries at once.
    nacked: AtomicBool,
}

impl AckTarget {
    /// `XACK`. A group that is gone (a consumer's own, after it ended) has nothing to redeliver.
    async fn ack(&self, id: &str) -> Result<(), Error> {
        let mut cmd = redis::cmd("XACK");
        cmd.arg(&[self.key.as_str(), &self.group, id]);
        match self.connection.query::<i64>(&cmd).await {
            Err(err) if err.code() == Some("NOGROUP") => Ok(()),
            result => result.map(drop).map_err(|err| self.connection.error(err)),
        }
    }

    /// Makes the entry look idle for long, so that the next claim redelivers it. `JUSTID`
    /// leaves the delivery count alone: the claim that redelivers it counts.
    async fn nack(&self, id: &str) -> Result<(), Error> {
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&[
            self.key.as_str(),
            &self.group,
            &self.consumer,
            "0",
            id,
            "IDLE",
        ]);
        cmd.arg(NACKED_IDLE_MS).arg("JUSTID");
        match self.connection.query::<Vec<String>>(&cmd).await {
            Err(err) if err.code() == Some("NOGROUP") => Ok(()),
            Err(err) => Err(self.connection.error(err)),
            Ok(_) => {
                self.nacked.store(true, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Acks an entry that will not be delivered, logging a failure.
    async fn discard(&self, id: &str) {
        if let Err(err) = self.ack(id).await {
            tracing::warn!(key = %self.key, entry = id, error = %err, "could not ack a skipped entry");
        }
    }
}

/// Acknowledges one delivered entry.
struct RedisAck {
    target: Arc<AckTarget>,
    id: String,
}

impl Acknowledge for RedisAck {
    fn ack(&self) -> BoxFuture<'static, Result<(), Error>> {
        let (target, id) = (self.target.clone(), self.id.clone());
        Box::pin(async move { target.ack(&id).await })
    }

    fn nack(&self) -> BoxFuture<'static, Result<(), Error>> {
        let (target, id) = (self.target.clone(), self.id.clone());
        Box::pin(async move { target.nack(&id).await })
    }
}

/// An event on its way to the user, before its acknowledgement is attached.
struct Delivery {
    event: Event,
    id: String,
    attempt: u32,
}

/// Entries fetched in one step, each with how often Redis has delivered it.
struct Batch {
    entries: Vec<(StreamId, u32)>,
    /// Where the claim pass goes on, if it is not finished.
    cursor: Option<String>,
}

/// The background task of one consumer.
struct Worker {
    /// Its own connection: a blocking `XREADGROUP` holds it up.
    connection: Connection,
    target: Arc<AckTarget>,
    start_id: String,
    ack_wait: Duration,
    retry_limit: Option<u32>,
    /// Its group is its own: destroyed when it ends.
    temporary: bool,
}

impl Worker {
    /// `XGROUP CREATE … MKSTREAM`; a group that exists keeps its position.
    async fn create_group(&self) -> Result<(), Error> {
        let target = &self.target;
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg(&[
            "CREATE",
            &target.key,
            &target.group,
            &self.start_id,
            "MKSTREAM",
        ]);
        match self.connection.query::<()>(&cmd).await {
            Err(err) if err.code() != Some("BUSYGROUP") => Err(self.connection.error(err)),
            _ => Ok(()),
        }
    }

    /// Reads and claims until the consumer is dropped; retries with backoff on errors.
    async fn run(self, tx: mpsc::Sender<Delivery>) {
        let period = (self.ack_wait / 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
        // A new consumer first claims what dead members of its group left idle.
        let mut cursor = Some("0-0".to_owned());
        let mut next_claim = Instant::now() + period;
        let mut backoff = Duration::ZERO;
        // Only as many entries as the user has room for, so none waits in a buffer for long.
        while let Ok(permits) = tx.reserve_many(BATCH).await {
            let nacked = self.target.nacked.swap(false, Ordering::Relaxed);
            if cursor.is_none() && (nacked || Instant::now() >= next_claim) {
                cursor = Some("0-0".to_owned());
            }
            let step = async {
                match &cursor {
                    Some(from) => self.claim(from).await,
                    None => self.read().await,
                }
            };
            let result = tokio::select! {
                result = step => result,
                () = tx.closed() => break,
            };
            let batch = match result {
                Ok(batch) => batch,
                Err(err) => {
                    drop(permits);
                    backoff = (backoff * 2).clamp(Duration::from_millis(100), MAX_BACKOFF);
                    self.recover(err, backoff).await;
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => continue,
                        () = tx.closed() => break,
                    }
                }
            };
            backoff = Duration::ZERO;
            if cursor.is_some() && batch.cursor.is_none() {
                next_claim = Instant::now() + period;
            }
            cursor = batch.cursor;
            for ((entry, deliveries), permit) in batch.entries.into_iter().zip(permits) {
                if let Some(delivery) = self.check(entry, deliveries).await {
                    permit.send(delivery);
                }
            }
        }
        self.clean_up().await;
    }

    /// `XREADGROUP … >`: entries never delivered to the group.
    async fn read(&self) -> RedisResult<Batch> {
        let target = &self.target;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg(&["GROUP", &target.group, &target.consumer]);
        cmd.arg("COUNT")
            .arg(BATCH)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64);
        cmd.arg(&["STREAMS", &target.key, ">"]);
        let reply: Option<StreamReadReply> = self.connection.query(&cmd).await?;
        let entries = reply.into_iter().flat_map(|reply| reply.keys);
        let entries = entries.flat_map(|key| key.ids).map(|entry| (entry, 1));
        Ok(Batch {
            entries: entries.collect(),
            cursor: None,
        })
    }

    /// `XAUTOCLAIM` from `from`: entries of any member of the group idle for `ack_wait`, with
    /// their delivery counts (which the claim increased) from `XPENDING`.
    async fn claim(&self, from: &str) -> RedisResult<Batch> {
        let target = &self.target;
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&[target.key.as_str(), &target.group, &target.consumer]);
        cmd.arg(self.ack_wait.as_millis().max(1) as u64);
        cmd.arg(&[from, "COUNT"]).arg(BATCH);
        let reply: StreamAutoClaimReply = self.connection.query(&cmd).await?;
        let mut entries = Vec::with_capacity(reply.claimed.len());
        for entry in reply.claimed {
            let mut cmd = redis::cmd("XPENDING");
            cmd.arg(&[
                target.key.as_str(),
                &target.group,
                &entry.id,
                &entry.id,
                "1",
            ]);
            let pending: StreamPendingCountReply = self.connection.query(&cmd).await?;
            // Acked in the meantime: no longer pending, nothing to deliver.
            if let Some(pending) = pending.ids.first() {
                let deliveries = u32::try_from(pending.times_delivered).unwrap_or(u32::MAX);
                entries.push((entry, deliveries));
            }
        }
        let done = reply.next_stream_id == "0-0";
        Ok(Batch {
            entries,
            cursor: (!done).then_some(reply.next_stream_id),
        })
    }

    /// The delivery for an entry, or `None` (acked and logged) for one that is not an event
    /// or has used up its retries.
    async fn check(&self, entry: StreamId, deliveries: u32) -> Option<Delivery> {
        let Ok(event) = parse(&self.target.key, &entry) else {
            self.target.discard(&entry.id).await;
            return None;
        };
        // go-micro redelivers by adding the event again with `attempt` one higher.
        let added = entry.get::<u32>("attempt").unwrap_or(1).max(1);
        let attempt = deliveries.max(1).saturating_add(added - 1);
        if let Some(limit) = self.retry_limit
            && attempt > limit.saturating_add(1)
        {
            tracing::warn!(
                topic = %event.topic, id = %event.id, entry = %entry.id, attempts = attempt - 1,
                "giving up on an event: its retry limit ({limit}) is used up"
            );
            self.target.discard(&entry.id).await;
            return None;
        }
        Some(Delivery {
            event,
            id: entry.id,
            attempt,
        })
    }

    /// Logs a failed step; creates the group again when the server lost it.
    async fn recover(&self, err: RedisError, backoff: Duration) {
        let target = &self.target;
        if err.code() == Some("NOGROUP") {
            tracing::warn!(key = %target.key, group = %target.group, "consumer group gone; creating it again");
            if let Err(err) = self.create_group().await {
                tracing::warn!(key = %target.key, error = %err, "could not create the consumer group");
            }
            return;
        }
        let err = self.connection.error(err);
        tracing::warn!(key = %target.key, group = %target.group, error = %err, retry_in = ?backoff, "consuming failed; retrying");
    }

    /// Removes what is no longer needed: its own group, or its name from a shared group when
    /// it holds no unacked entries (those stay until another member claims them).
    async fn clean_up(&self) {
        let target = &self.target;
        let (key, group, consumer) = (target.key.as_str(), &target.group, &target.consumer);
        let mut cmd = redis::cmd("XGROUP");
        if self.temporary {
            cmd.arg(&["DESTROY", key, group]);
        } else {
            let mut pending = redis::cmd("XPENDING");
            pending.arg(&[key, group, "-", "+", "1", consumer]);
            match self
                .connection
                .query::<StreamPendingCountReply>(&pending)
                .await
            {
                Ok(reply) if reply.ids.is_empty() => {}
                _ => return,
            }
            cmd.arg(&["DELCONSUMER", key, group, consumer]);
        }
        let _ = self.connection.query::<i64>(&cmd).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_group_start_ids() {
        assert_eq!(start_id(Offset::New), "$");
        assert_eq!(start_id(Offset::Start), "0");
        let time = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let id = start_id(Offset::Time(time));
        assert_eq!(id, format!("1700000000122-{}", u64::MAX));
    }
}
