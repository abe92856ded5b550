//! The etcd coordinator, in go-micro's layout: lock and election `id` live under
//! `/micro/sync/<prefix + id, "/" → "-">`, as etcd's lock and election services (and go-micro's
//! `concurrency` mutexes and elections) lay them out, each owner's key bound to a lease. A
//! hold's fence is the revision that created its owner's key.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use etcd_client::{EventType, LeaderKey, WatchOptions};
use tokio::sync::watch;

use super::lease::{Connection, Lease};
use super::types::{validate, validate_id};
use super::{
    BoxFuture, Coordinator, Error, ErrorKind, Fence, Leader, LeaderOptions, LockOptions, Resign,
};

/// Every go-micro sync key starts with this.
const PREFIX: &str = "/micro/sync/";

/// A [`Coordinator`] in etcd, compatible with go-micro's. Connects on first use.
///
/// Each lock or leadership holds an etcd lease of its TTL, kept alive while held. Dropping the
/// coordinator stops the keep-alives without unlocking: its locks expire after their TTL, as
/// a crashed process's would.
pub struct EtcdSync {
    connection: Arc<Connection>,
    prefix: String,
    held: Mutex<HashMap<String, Lease>>,
}

impl EtcdSync {
    /// A coordinator on the etcd at `addresses` (`host:port`; none means `127.0.0.1:2379`, a
    /// missing port 2379), logging in with `ETCD_USERNAME`/`ETCD_PASSWORD` if they are set.
    pub fn new(addresses: &[String]) -> EtcdSync {
        let (addresses, auth) = (
            crate::etcd::endpoints(addresses),
            crate::etcd::credentials(),
        );
        EtcdSync {
            connection: Arc::new(Connection::new(addresses, auth)),
            prefix: String::new(),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// Speaks TLS to etcd with `tls`'s CA and client certificate (also when an address is
    /// `https://`, with the system's roots). Call before first use.
    pub fn with_tls(mut self, tls: crate::BackendTls) -> EtcdSync {
        self.connection = Arc::new(self.connection.with_tls(tls));
        self
    }

    /// Puts `prefix` before every id (go-micro's `sync.Prefix`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> EtcdSync {
        self.prefix = prefix.into();
        self
    }

    /// The etcd key of lock or election `id`.
    pub fn key(&self, id: &str) -> String {
        let name = format!("{}{id}", self.prefix);
        format!("{PREFIX}{}", name.replace('/', "-"))
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, Lease>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Grants a lease of the options' TTL and runs `request` with it within the options' wait;
    /// the lease is revoked if that fails or times out.
    async fn with_lease<T, Fut>(
        &self,
        id: &str,
        options: &LockOptions,
        request: impl FnOnce(etcd_client::Client, i64) -> Fut,
    ) -> Result<(T, Lease), Error>
    where
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        validate(id, options)?;
        let lease = Lease::grant(&self.connection, options.ttl).await?;
        let lease_id = lease.id;
        let attempt = self
            .connection
            .unbounded(|client| request(client, lease_id));
        let value = match options.wait {
            Some(wait) => tokio::time::timeout(wait, attempt)
                .await
                .map_err(|_| Error::lock_timeout(id, wait))??,
            None => attempt.await?,
        };
        Ok((value, lease))
    }
}

impl Coordinator for EtcdSync {
    fn lock<'a>(
        &'a self,
        id: &'a str,
        options: LockOptions,
    ) -> BoxFuture<'a, Result<Fence, Error>> {
        Box::pin(async move {
            let key = self.key(id);
            let lock = etcd_client::LockOptions::new();
            let (created, mut lease) = self
                .with_lease(id, &options, |mut client, lease| async move {
                    let owner = client.lock(key, Some(lock.with_lease(lease))).await?;
                    // The lock service answers with the owner's key; its create revision is
                    // what orders holders (as go-micro's mutex orders them).
                    let owner = client.get(owner.key(), None).await?;
                    Ok(owner.kvs().first().map(|kv| kv.create_revision()))
                })
                .await?;
            let Some(created) = created else {
                // The lease lapsed between the two requests (dropped, it is revoked).
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "lock `{id}` lost at once: etcd at {} granted it, but its key was gone \
                         when read (its lease lapsed); try again",
                        self.connection.addresses()
                    ),
                ));
            };
            lease.hold();
            self.held().insert(id.to_owned(), lease);
            Ok(fence(created))
        })
    }

    fn unlock<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            validate_id(id)?;
            let mut lease = self.held().remove(id).ok_or_else(|| Error::not_held(id))?;
            let kept = *lease.alive().borrow();
            let existed = match lease.revoke().await {
                Ok(existed) => existed,
                Err(err) => {
                    // Still ours to unlock later, unless this node took the lock again since.
                    self.held().entry(id.to_owned()).or_insert(lease);
                    return Err(err);
                }
            };
            match kept && existed {
                true => Ok(()),
                false => Err(Error::new(
                    ErrorKind::NotHeld,
                    format!(
                        "not held: lock `{id}` was lost before unlock: its lease {} (etcd at {})",
                        match existed {
                            true => "could not be kept alive for its TTL",
                            false => "had expired or etcd lost it",
                        },
                        self.connection.addresses()
                    ),
                )),
            }
        })
    }

    fn leader<'a>(
        &'a self,
        id: &'a str,
        options: LeaderOptions,
    ) -> BoxFuture<'a, Result<Leader, Error>> {
        Box::pin(async move {
            let (key, value) = (self.key(id), id.to_owned());
            let (response, lease) = self
                .with_lease(id, &options, |mut client, lease| async move {
                    client.campaign(key, value, lease).await
                })
                .await
                .map_err(|err| err.for_leader(id, &options))?;
            let Some(elected) = response.leader().cloned() else {
                let message = "etcd answered a campaign without a leader key";
                return Err(Error::unavailable(
                    "etcd",
                    &self.connection.addresses(),
                    message,
                ));
            };
            let fence = fence(elected.rev());
            let (status, receiver) = watch::channel(true);
            let status = Arc::new(status);
            let watcher = tokio::spawn(watch_leadership(
                self.connection.clone(),
                elected,
                lease.alive(),
                status.clone(),
            ));
            let resign: Resign = Box::new(move || {
                Box::pin(async move {
                    let mut lease = lease;
                    watcher.abort();
                    status.send_replace(false);
                    lease.revoke().await.map(drop)
                })
            });
            Ok(Leader::new(id, fence, receiver, resign))
        })
    }

    fn name(&self) -> &'static str {
        "etcd"
    }
}

/// The fence of a hold whose owner's key etcd created at `revision` (always positive).
fn fence(revision: i64) -> Fence {
    Fence::new(u64::try_from(revision).unwrap_or_default())
}

/// Reports leadership lost (`status` → `false`) when the elected key is deleted (revoked, or
/// its lease expired) or the lease can no longer be kept alive.
async fn watch_leadership(
    connection: Arc<Connection>,
    elected: LeaderKey,
    mut alive: watch::Receiver<bool>,
    status: Arc<watch::Sender<bool>>,
) {
    // A watch that reopens through another member when the one serving it goes silent (a
    // partition); while it cannot, the lease's keep-alives still tell.
    let deleted = async {
        let (key, revision) = (elected.key().to_vec(), elected.rev());
        let client = connection.lazy().clone();
        let from = Some(revision);
        let mut watch = loop {
            match crate::etcd::Watch::start(client.clone(), key.clone(), WatchOptions::new(), from)
                .await
            {
                Ok(watch) => break watch,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
            }
        };
        loop {
            let Ok(response) = watch.next().await else {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            };
            let events = response.events();
            if events
                .iter()
                .any(|event| event.event_type() == EventType::Delete)
            {
                return;
            }
        }
    };
    tokio::select! {
        () = deleted => {}
        _ = alive.wait_for(|alive| !alive) => {}
    }
    status.send_replace(false);
}

impl fmt::Debug for EtcdSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdSync")
            .field("addresses", &self.connection.addresses())
            .field("prefix", &self.prefix)
            .field("held", &self.held().keys().collect::<Vec<_>>())
            .finish()
    }
}
