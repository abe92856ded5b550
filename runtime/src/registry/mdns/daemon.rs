//! The responder and listener behind an mDNS registry: answers queries for the instances
//! registered here, announces and retracts them, and hands every response it hears to queries
//! and watchers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{Record, RecordType};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::packet::{self, Instance};
use super::socket::{Multicast, PORT};

/// Responses heard that a slow query or watcher may fall behind by.
const HEARD_BUFFER: usize = 1024;
/// How often registrations whose TTL ran out are retracted.
const EXPIRY_CHECK: Duration = Duration::from_secs(1);
/// Unsolicited announcements per change, this far apart (RFC 6762 §8.3 asks for at least two).
const ANNOUNCEMENTS: u32 = 2;
const ANNOUNCE_GAP: Duration = Duration::from_secs(1);

/// One instance this host answers for.
struct Entry {
    ptr: Record,
    records: Vec<Record>,
    /// When an unrefreshed registration lapses.
    expiry: Option<Instant>,
}

impl Entry {
    /// The entry's records with TTL 0: "this is gone".
    fn goodbye(self) -> Message {
        let zero = |mut record: Record| {
            record.ttl = 0;
            record
        };
        packet::response(
            0,
            vec![zero(self.ptr)],
            self.records.into_iter().map(zero).collect(),
        )
    }
}

/// The running responder. Dropping the last handle stops it.
pub(crate) struct Daemon {
    multicast: Multicast,
    /// Instances by full instance name (lowercase).
    zone: Mutex<BTreeMap<String, Entry>>,
    heard: broadcast::Sender<Arc<Message>>,
}

impl Daemon {
    /// Opens the socket and starts answering.
    pub(crate) fn start() -> std::io::Result<Arc<Daemon>> {
        let multicast = Multicast::open()?;
        let (heard, _) = broadcast::channel(HEARD_BUFFER);
        let daemon = Arc::new(Daemon {
            multicast,
            zone: Mutex::new(BTreeMap::new()),
            heard,
        });
        tokio::spawn(receive(Arc::downgrade(&daemon)));
        tokio::spawn(expire(Arc::downgrade(&daemon)));
        Ok(daemon)
    }

    fn zone(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.zone
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Responses heard from now on, including answers to our own queries.
    pub(crate) fn listen(&self) -> broadcast::Receiver<Arc<Message>> {
        self.heard.subscribe()
    }

    /// Answers for `instance` from now on (until `expiry`), announcing it if it is new or
    /// changed.
    pub(crate) async fn publish(
        self: &Arc<Self>,
        instance: &Instance,
        ttl: u32,
        expiry: Option<Instant>,
    ) -> Result<(), String> {
        let (ptr, records) = instance.records(ttl)?;
        let key = ptr_target(&ptr);
        let changed = {
            let mut zone = self.zone();
            let changed = zone.get(&key).is_none_or(|known| known.records != records);
            zone.insert(
                key,
                Entry {
                    ptr: ptr.clone(),
                    records: records.clone(),
                    expiry,
                },
            );
            changed
        };
        if changed {
            let daemon = Arc::downgrade(self);
            tokio::spawn(async move {
                for announcement in 0..ANNOUNCEMENTS {
                    if announcement > 0 {
                        tokio::time::sleep(ANNOUNCE_GAP).await;
                    }
                    let Some(daemon) = daemon.upgrade() else {
                        return;
                    };
                    daemon
                        .send(&packet::response(0, vec![ptr.clone()], records.clone()))
                        .await;
                }
            });
        }
        Ok(())
    }

    /// Stops answering for `instance_name` and says goodbye (records with TTL 0).
    pub(crate) async fn retract(&self, instance_name: &str) {
        let removed = self.zone().remove(&instance_name.to_ascii_lowercase());
        if let Some(entry) = removed {
            self.goodbye(entry).await;
        }
    }

    /// Whether any instance of `service` is still published here.
    pub(crate) fn publishes(&self, service: &str) -> bool {
        let owner = packet::service_name(service).to_ascii_lowercase();
        self.zone()
            .values()
            .any(|entry| entry.ptr.name.to_ascii().eq_ignore_ascii_case(&owner))
    }

    async fn goodbye(&self, entry: Entry) {
        self.send(&entry.goodbye()).await;
    }

    /// Multicasts `query`.
    pub(crate) async fn query(&self, query: &Message) -> std::io::Result<()> {
        let bytes = query.to_vec().map_err(std::io::Error::other)?;
        self.multicast.send_to_group(&bytes).await
    }

    async fn send(&self, message: &Message) {
        match message.to_vec() {
            Ok(bytes) => {
                if let Err(err) = self.multicast.send_to_group(&bytes).await {
                    super::warn_once(&err.to_string());
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot encode an mDNS response"),
        }
    }

    /// The answer to a query, if this host has any of what it asks for.
    fn answer(&self, query: &Message) -> Option<Message> {
        let zone = self.zone();
        let now = Instant::now();
        let live = || {
            zone.values()
                .filter(|entry| entry.expiry.is_none_or(|at| at > now))
        };
        let mut answers = Vec::new();
        let mut additionals = Vec::new();
        for question in &query.queries {
            let name = question.name.to_ascii();
            let wants = |kind: RecordType| {
                question.query_type == kind || question.query_type == RecordType::ANY
            };
            for entry in live() {
                if wants(RecordType::PTR) && entry.ptr.name.to_ascii().eq_ignore_ascii_case(&name) {
                    answers.push(entry.ptr.clone());
                    additionals.extend(entry.records.iter().cloned());
                    continue;
                }
                answers.extend(
                    entry
                        .records
                        .iter()
                        .filter(|record| record.name.to_ascii().eq_ignore_ascii_case(&name))
                        .filter(|record| wants(record.record_type()))
                        .cloned(),
                );
            }
        }
        (!answers.is_empty()).then(|| packet::response(query.metadata.id, answers, additionals))
    }

    /// Replies to a query from `from`: by multicast, or to the sender alone when it asked for
    /// that (the QU bit) or is not a full mDNS responder (a "legacy" query from another port).
    async fn reply(&self, query: &Message, from: SocketAddr) {
        let Some(mut response) = self.answer(query) else {
            return;
        };
        let unicast = from.port() != PORT || query.queries.iter().any(|q| q.mdns_unicast_response);
        if !unicast {
            response.metadata.id = 0;
            return self.send(&response).await;
        }
        response.add_queries(query.queries.iter().cloned());
        if let Ok(bytes) = response.to_vec() {
            let _ = self.multicast.socket.send_to(&bytes, from).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Retract what is still published; best effort, as the runtime may be going away.
        let entries: Vec<Entry> = std::mem::take(&mut *self.zone()).into_values().collect();
        for entry in entries {
            if let Ok(bytes) = entry.goodbye().to_vec() {
                let group = SocketAddr::from((super::socket::GROUP, PORT));
                let _ = self.multicast.socket.try_send_to(&bytes, group);
            }
        }
    }
}

/// The full instance name a PTR points at, lowercase.
fn ptr_target(ptr: &Record) -> String {
    match &ptr.data {
        hickory_proto::rr::RData::PTR(target) => target.0.to_ascii().to_ascii_lowercase(),
        _ => ptr.name.to_ascii().to_ascii_lowercase(),
    }
}

/// Reads packets: answers queries, passes responses on.
async fn receive(daemon: Weak<Daemon>) {
    let mut buffer = vec![0u8; 9000];
    loop {
        let Some(strong) = daemon.upgrade() else {
            return;
        };
        let received = tokio::select! {
            received = strong.multicast.socket.recv_from(&mut buffer) => received,
            () = tokio::time::sleep(Duration::from_secs(1)) => continue,
        };
        let (len, from) = match received {
            Ok(received) => received,
            Err(err) => {
                tracing::debug!(error = %err, "mDNS receive failed");
                continue;
            }
        };
        let Some(message) = packet::parse(&buffer[..len]) else {
            tracing::debug!(%from, "ignoring a malformed mDNS packet");
            continue;
        };
        match message.metadata.message_type {
            MessageType::Query => strong.reply(&message, from).await,
            MessageType::Response => {
                let _ = strong.heard.send(Arc::new(message));
            }
        }
    }
}

/// Retracts registrations whose TTL ran out without a refresh.
async fn expire(daemon: Weak<Daemon>) {
    let mut ticker = tokio::time::interval(EXPIRY_CHECK);
    loop {
        ticker.tick().await;
        let Some(daemon) = daemon.upgrade() else {
            return;
        };
        let now = Instant::now();
        let lapsed: Vec<Entry> = {
            let mut zone = daemon.zone();
            let keys: Vec<String> = zone
                .iter()
                .filter(|(_, entry)| entry.expiry.is_some_and(|at| at <= now))
                .map(|(key, _)| key.clone())
                .collect();
            keys.iter().filter_map(|key| zone.remove(key)).collect()
        };
        for entry in lapsed {
            daemon.goodbye(entry).await;
        }
    }
}
