//! An etcd watch that outlives the member serving it going silent, as Go's clientv3 watches do.
//!
//! A watch is one gRPC stream to one member. Behind a partition (or frozen) that member keeps
//! the stream open and sends nothing, so the watch misses every change until the partition
//! heals, and nothing says so. Here an idle watch asks for its progress every
//! [`PROGRESS_EVERY`]; a stream that leaves it unanswered for [`SILENT_FOR`], or fails, is
//! dropped and opened again from the revision after the last one seen (by then the members
//! watchdog has left the silent member out, so the new stream goes to another), and no event
//! is lost or repeated.

use std::time::Duration;

use etcd_client::{WatchOptions, WatchResponse, WatchStream};
use tokio::time::Instant;

use super::LazyClient;

/// How long a watch may be idle before it asks the member for its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// How long to wait before opening a watch again.
const REOPEN_AFTER: Duration = Duration::from_millis(100);
/// How long a watch's member may leave it unanswered before the watch is opened again. etcd 3.4
/// leaves a progress request unanswered while the member is catching up, so this spans a few.
const SILENT_FOR: Duration = Duration::from_secs(2);

/// A watch of `key` (with `options`) that reopens itself; see the module docs.
pub(crate) struct Watch {
    client: LazyClient,
    key: Vec<u8>,
    options: WatchOptions,
    stream: Option<WatchStream>,
    /// The revision up to which every event has been delivered, once known.
    seen: Option<i64>,
    /// Since when the member has left a progress request unanswered.
    unanswered: Option<Instant>,
}

impl Watch {
    /// Opens the watch, of changes from revision `from` on (`None`: from now on); the error
    /// says why not. `options` must not set a start revision.
    pub(crate) async fn start(
        client: LazyClient,
        key: impl Into<Vec<u8>>,
        options: WatchOptions,
        from: Option<i64>,
    ) -> Result<Watch, String> {
        let mut watch = Watch {
            client,
            key: key.into(),
            options,
            stream: None,
            seen: from.map(|from| from - 1),
            unanswered: None,
        };
        watch.open().await?;
        Ok(watch)
    }

    /// The next response with events; `Err` when the watch cannot be opened again (etcd is
    /// unreachable, or the revisions it missed were compacted). Later calls try again.
    pub(crate) async fn next(&mut self) -> Result<WatchResponse, String> {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                // A stream that ends as soon as it opens is not reopened in a tight loop.
                tokio::time::sleep(REOPEN_AFTER).await;
                self.open().await?;
                continue;
            };
            let idle = tokio::time::sleep_until(Instant::now() + PROGRESS_EVERY);
            let message = tokio::select! {
                message = stream.message() => message,
                () = idle => {
                    let since = *self.unanswered.get_or_insert_with(Instant::now);
                    if since.elapsed() >= SILENT_FOR {
                        tracing::info!(silent_for = ?since.elapsed(), "etcd watch silent; watching again through another member");
                        self.stream = None;
                    } else if stream.request_progress().await.is_err() {
                        self.stream = None;
                    }
                    continue;
                }
            };
            match message {
                Ok(Some(response)) => {
                    self.unanswered = None;
                    if let Some(response) = self.take(response)? {
                        return Ok(response);
                    }
                }
                Ok(None) => {
                    tracing::debug!("etcd watch ended; watching again");
                    self.stream = None;
                }
                Err(err) => {
                    tracing::debug!(error = %err, "etcd watch failed; watching again");
                    self.stream = None;
                }
            }
        }
    }

    /// Notes what `response` says about the revisions seen; the response if it has events.
    fn take(&mut self, response: WatchResponse) -> Result<Option<WatchResponse>, String> {
        if response.canceled() {
            self.stream = None;
            return Err(match response.compact_revision() {
                0 => format!("etcd cancelled the watch: {}", response.cancel_reason()),
                compacted => {
                    format!("the watch fell behind: etcd compacted the revisions up to {compacted}")
                }
            });
        }
        let header = response.header().map(|header| header.revision());
        let last_event = response
            .events()
            .iter()
            .filter_map(|event| event.kv().map(|kv| kv.mod_revision()))
            .max();
        // A progress answer, or the creation of a watch of "from now on": everything up to
        // the header's revision has been sent. A watch created from a given revision has yet
        // to catch up, so only its events count.
        let up_to = match last_event {
            Some(revision) => Some(revision),
            None if !response.created() || self.seen.is_none() => header,
            None => None,
        };
        self.seen = self.seen.max(up_to);
        Ok((!response.events().is_empty()).then_some(response))
    }

    /// Opens a stream, from the revision after the last one seen if any.
    async fn open(&mut self) -> Result<(), String> {
        let options = match self.seen {
            Some(seen) => self.options.clone().with_start_revision(seen + 1),
            None => self.options.clone(),
        };
        let key = self.key.clone();
        let stream = self
            .client
            .request(|mut client| async move { client.watch(key, Some(options)).await })
            .await?;
        self.stream = Some(stream);
        self.unanswered = None;
        Ok(())
    }
}
