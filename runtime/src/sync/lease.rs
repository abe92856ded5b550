//! The etcd connection, and leases kept alive while a lock or leadership holds them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Error;

/// How long connecting, or one etcd request, may take, as in go-micro.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How often a failed keep-alive is retried while the lease may still be alive.
const RETRY: Duration = Duration::from_millis(250);

/// One etcd cluster, connected on first use.
pub(super) struct Connection {
    addresses: Vec<String>,
    /// No per-request timeout: lock and campaign calls wait as long as their caller says, and
    /// keep-alive streams live as long as their lease.
    client: crate::etcd::LazyClient,
}

impl Connection {
    /// A connection to `addresses` (normalized `host:port`), logging in as `auth` if given.
    pub(super) fn new(addresses: Vec<String>, auth: Option<(String, String)>) -> Connection {
        Connection {
            client: crate::etcd::LazyClient::new(addresses.clone(), auth, None),
            addresses,
        }
    }

    /// This connection, over TLS with `tls` (`--sync-tls-*`); not connected yet.
    pub(super) fn with_tls(&self, tls: crate::BackendTls) -> Connection {
        Connection {
            client: self.client.clone().with_tls(tls, "--sync-tls"),
            addresses: self.addresses.clone(),
        }
    }

    pub(super) fn addresses(&self) -> String {
        self.addresses.join(",")
    }

    fn unreachable(&self, err: impl Into<crate::BoxError>) -> Error {
        Error::unavailable("etcd", &self.addresses(), err)
    }

    /// The lazily connected client, for a watch that reopens itself.
    pub(super) fn lazy(&self) -> &crate::etcd::LazyClient {
        &self.client
    }

    /// The client, with no per-request timeout.
    pub(super) async fn client(&self) -> Result<Client, Error> {
        self.client.get().await.map_err(|err| self.unreachable(err))
    }

    /// Runs one request, waiting at most 5 s.
    pub(super) async fn call<T, Fut>(&self, request: impl FnOnce(Client) -> Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        match tokio::time::timeout(TIMEOUT, self.unbounded(request)).await {
            Ok(result) => result,
            Err(_) => Err(self.unreachable(format!("no answer within {TIMEOUT:?}"))),
        }
    }

    /// Runs one request that may wait (a lock, a campaign) for as long as the caller lets it.
    pub(super) async fn unbounded<T, Fut>(
        &self,
        request: impl FnOnce(Client) -> Fut,
    ) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let client = self.client().await?;
        request(client)
            .await
            .map_err(|err| self.unreachable(self.client.describe(&err)))
    }
}

/// A lease this node keeps alive. Dropping it stops the keep-alives, and revokes the lease
/// unless [`Lease::hold`] was called (then it expires after its TTL, as if the process died).
pub(super) struct Lease {
    pub(super) id: i64,
    connection: Arc<Connection>,
    keeper: JoinHandle<()>,
    alive: watch::Receiver<bool>,
    revoke_on_drop: bool,
}

impl Lease {
    /// Grants a lease of `ttl` (rounded up to whole seconds) and starts keeping it alive.
    pub(super) async fn grant(connection: &Arc<Connection>, ttl: Duration) -> Result<Lease, Error> {
        let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        let ttl = Duration::from_secs(seconds);
        let asked = Instant::now();
        let granted = connection
            .call(|mut client| async move { client.lease_grant(seconds as i64, None).await })
            .await?;
        let client = connection.client().await?;
        let (alive, receiver) = watch::channel(true);
        let keeper = tokio::spawn(keep_alive(client, granted.id(), ttl, asked, alive));
        Ok(Lease {
            id: granted.id(),
            connection: connection.clone(),
            keeper,
            alive: receiver,
            revoke_on_drop: true,
        })
    }

    /// `true` until this node can no longer be sure the lease exists.
    pub(super) fn alive(&self) -> watch::Receiver<bool> {
        self.alive.clone()
    }

    /// Marks the lease as held: dropping it now leaves it to expire.
    pub(super) fn hold(&mut self) {
        self.revoke_on_drop = false;
    }

    /// Revokes the lease, deleting the keys bound to it, and stops the keep-alives; whether
    /// etcd still had it (`false`: it expired, or etcd lost it).
    pub(super) async fn revoke(&mut self) -> Result<bool, Error> {
        let existed = revoke(&self.connection, self.id).await?;
        self.revoke_on_drop = false;
        self.keeper.abort();
        Ok(existed)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.keeper.abort();
        if !self.revoke_on_drop {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (connection, id) = (self.connection.clone(), self.id);
            runtime.spawn(async move {
                if let Err(err) = revoke(&connection, id).await {
                    tracing::debug!("revoking an abandoned sync lease failed: {err}");
                }
            });
        }
    }
}

/// Revokes lease `id`; whether it existed.
async fn revoke(connection: &Connection, id: i64) -> Result<bool, Error> {
    connection
        .call(|mut client| async move {
            match client.lease_revoke(id).await {
                Ok(_) => Ok(true),
                Err(etcd_client::Error::GRpcStatus(status))
                    if status.message().contains("lease not found") =>
                {
                    Ok(false)
                }
                Err(err) => Err(err),
            }
        })
        .await
}

/// Refreshes lease `id` every third of its `ttl` until etcd says it is gone or no refresh has
/// been confirmed for a whole `ttl` (etcd may have expired it), then reports it dead. The
/// clock starts when the grant was asked for, and each refresh counts from when it was sent.
async fn keep_alive(
    mut client: Client,
    id: i64,
    ttl: Duration,
    mut confirmed: Instant,
    alive: watch::Sender<bool>,
) {
    let mut stream = None;
    let mut pause = ttl / 3;
    loop {
        tokio::time::sleep(pause).await;
        let sent = Instant::now();
        let Some(left) = ttl
            .checked_sub(sent - confirmed)
            .filter(|left| !left.is_zero())
        else {
            break;
        };
        match tokio::time::timeout(left, refresh(&mut client, id, &mut stream)).await {
            Ok(Ok(true)) => (confirmed, pause) = (sent, ttl / 3),
            Ok(Ok(false)) => break,
            Ok(Err(_)) | Err(_) => (stream, pause) = (None, RETRY),
        }
    }
    alive.send_replace(false);
}

type KeepAlive = (LeaseKeeper, LeaseKeepAliveStream);

/// One keep-alive: `false` when etcd no longer knows the lease.
async fn refresh(
    client: &mut Client,
    id: i64,
    stream: &mut Option<KeepAlive>,
) -> Result<bool, etcd_client::Error> {
    let (keeper, responses) = match stream {
        Some(open) => open,
        // Opening the stream sends the first keep-alive.
        None => match client.lease_keep_alive(id).await {
            Ok(open) => {
                *stream = Some(open);
                return Ok(true);
            }
            Err(etcd_client::Error::LeaseKeepAliveError(err)) if err.contains("not found") => {
                return Ok(false);
            }
            Err(err) => return Err(err),
        },
    };
    keeper.keep_alive().await?;
    match responses.message().await? {
        Some(response) => Ok(response.ttl() > 0),
        None => Err(etcd_client::Error::WatchError(
            "keep-alive stream closed".into(),
        )),
    }
}
