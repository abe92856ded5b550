//! The etcd registry, in go-micro's layout: one key per node, `/micro/registry/<service>/<node>`,
//! holding the service as JSON with that one node, attached to a lease of the registration TTL.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, KeyValue, PutOptions, WatchOptions};

use super::{Action, BoxFuture, Error, ErrorKind, Event, Registry, Service, Watcher};
use crate::BackendTls;

/// Every go-micro registry key starts with this.
const PREFIX: &str = "/micro/registry/";
/// How long one etcd request may take, as in go-micro.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where etcd is and how to log in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EtcdOptions {
    /// Endpoints, `host:port` or `https://host:port` (default `127.0.0.1:2379`).
    pub addresses: Vec<String>,
    /// User and password, from `ETCD_USERNAME` and `ETCD_PASSWORD` by default.
    pub auth: Option<(String, String)>,
    /// TLS (`--registry-tls-*`): on when a file is given or an endpoint is `https://`.
    pub tls: BackendTls,
}

impl EtcdOptions {
    /// Options for these addresses (none means `127.0.0.1:2379`; a missing port means 2379),
    /// with credentials from `ETCD_USERNAME`/`ETCD_PASSWORD` if set.
    pub fn from_addresses(addresses: &[String]) -> EtcdOptions {
        EtcdOptions {
            addresses: crate::etcd::endpoints(addresses),
            auth: crate::etcd::credentials(),
            tls: BackendTls::default(),
        }
    }

    /// Speaks TLS to etcd with `tls`'s CA and client certificate.
    pub fn tls(mut self, tls: BackendTls) -> EtcdOptions {
        self.tls = tls;
        self
    }
}

/// A [`Registry`] in etcd, wire-compatible with go-micro's. Connects on first use.
pub struct EtcdRegistry {
    options: EtcdOptions,
    client: crate::etcd::LazyClient,
    /// The lease and value of each node this process registered, by key.
    leases: Mutex<HashMap<String, (i64, String)>>,
}

impl EtcdRegistry {
    /// A registry in the etcd cluster `options` describes.
    pub fn new(options: EtcdOptions) -> EtcdRegistry {
        let client = crate::etcd::LazyClient::new(
            options.addresses.clone(),
            options.auth.clone(),
            Some(TIMEOUT),
        )
        .with_tls(options.tls.clone(), "--registry-tls");
        EtcdRegistry {
            options,
            client,
            leases: Mutex::new(HashMap::new()),
        }
    }

    fn addresses(&self) -> String {
        self.options.addresses.join(",")
    }

    /// `UNAVAILABLE`, naming etcd's addresses and the way out.
    fn unreachable(&self, err: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "etcd at {} unreachable: {err}; start etcd there, point --registry-address at it, \
                 or pass --registry mdns",
                self.addresses()
            ),
        )
    }

    /// Runs one etcd request with the timeout, mapping failures to `UNAVAILABLE`.
    async fn request<T, Fut>(&self, request: impl FnOnce(Client) -> Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let result = self.client.request(request).await;
        result.map_err(|err| self.unreachable(err))
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, String)>> {
        self.leases
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Refreshes the lease of an unchanged node; `false` when it must be written again (new,
    /// changed, or its lease is gone, e.g. etcd lost its data).
    async fn refresh(&self, key: &str, value: &str) -> Result<bool, Error> {
        let known = self.leases().get(key).cloned();
        let Some((lease, _)) = known.filter(|(_, registered)| registered == value) else {
            return Ok(false);
        };
        let ttl = self
            .request(|mut client| async move {
                let keep_alive = async {
                    let (mut keeper, mut responses) = client.lease_keep_alive(lease).await?;
                    keeper.keep_alive().await?;
                    Ok(responses
                        .message()
                        .await?
                        .map_or(0, |response| response.ttl()))
                };
                match keep_alive.await {
                    // etcd no longer knows the lease (it lost its data, or the lease expired).
                    Err(etcd_client::Error::LeaseKeepAliveError(_)) => Ok(0),
                    result => result,
                }
            })
            .await?;
        Ok(ttl > 0)
    }

    async fn put(&self, key: String, value: String, ttl: Option<Duration>) -> Result<(), Error> {
        let lease = match ttl {
            Some(ttl) => {
                let seconds = ttl.as_secs().max(1) as i64;
                let granted = self
                    .request(|mut client| async move { client.lease_grant(seconds, None).await })
                    .await?;
                Some(granted.id())
            }
            None => None,
        };
        let options = lease.map(|lease| PutOptions::new().with_lease(lease));
        let (k, v) = (key.clone(), value.clone());
        self.request(|mut client| async move { client.put(k, v, options).await })
            .await?;
        match lease {
            Some(lease) => self.leases().insert(key, (lease, value)),
            None => self.leases().remove(&key),
        };
        Ok(())
    }

    /// Every node stored under `prefix`, merged into services by name and version. Values that
    /// are not a registry entry are skipped with a warning.
    async fn read(&self, prefix: String) -> Result<Vec<Service>, Error> {
        let response = self
            .request(|mut client| async move {
                client
                    .get(prefix, Some(GetOptions::new().with_prefix()))
                    .await
            })
            .await?;
        let mut merged: BTreeMap<(String, String), Service> = BTreeMap::new();
        for kv in response.kvs() {
            let Some(service) = decode(kv) else { continue };
            let entry = merged
                .entry((service.name.clone(), service.version.clone()))
                .or_insert_with(|| Service {
                    nodes: Vec::new(),
                    ..service.clone()
                });
            entry.nodes.extend(service.nodes);
        }
        Ok(merged.into_values().collect())
    }
}

impl std::fmt::Debug for EtcdRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdRegistry")
            .field("addresses", &self.options.addresses)
            .finish_non_exhaustive()
    }
}

/// go-micro's key for a node; `/` in names becomes `-`.
fn node_key(service: &str, node: &str) -> String {
    format!(
        "{PREFIX}{}/{}",
        service.replace('/', "-"),
        node.replace('/', "-")
    )
}

fn service_prefix(service: &str) -> String {
    format!("{PREFIX}{}/", service.replace('/', "-"))
}

/// A stored entry, or `None` (with a warning) for a value that is not one.
fn decode(kv: &KeyValue) -> Option<Service> {
    match serde_json::from_slice::<Service>(kv.value()) {
        Ok(service) => Some(service),
        Err(err) => {
            let key = String::from_utf8_lossy(kv.key());
            tracing::warn!(%key, error = %err, "skipping an etcd registry value that is not a service");
            None
        }
    }
}

impl Registry for EtcdRegistry {
    fn register<'a>(
        &'a self,
        service: &'a Service,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            super::memory::validate(service)?;
            for node in &service.nodes {
                let key = node_key(&service.name, &node.id);
                let value =
                    serde_json::to_string(&service.with_only_node(node)).map_err(|err| {
                        Error::new(
                            ErrorKind::InvalidData,
                            format!("cannot encode {}: {err}", service.name),
                        )
                    })?;
                if ttl.is_some() && self.refresh(&key, &value).await? {
                    continue;
                }
                self.put(key, value, ttl).await?;
            }
            Ok(())
        })
    }

    fn deregister<'a>(&'a self, service: &'a Service) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            for node in &service.nodes {
                let key = node_key(&service.name, &node.id);
                let lease = self.leases().remove(&key).map(|(lease, _)| lease);
                let delete_key = key.clone();
                self.request(|mut client| async move { client.delete(delete_key, None).await })
                    .await?;
                if let Some(lease) = lease {
                    // The key is gone already; a lease that cannot be revoked simply expires.
                    let _ = self
                        .request(|mut client| async move { client.lease_revoke(lease).await })
                        .await;
                }
            }
            Ok(())
        })
    }

    fn get_service<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Service>, Error>> {
        Box::pin(async move {
            let services = self.read(service_prefix(name)).await?;
            let services: Vec<Service> = services.into_iter().filter(|s| s.name == name).collect();
            if services.is_empty() {
                return Err(Error::not_found(name, "etcd"));
            }
            Ok(services)
        })
    }

    fn list_services(&self) -> BoxFuture<'_, Result<Vec<Service>, Error>> {
        Box::pin(self.read(PREFIX.to_owned()))
    }

    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, Error>> {
        Box::pin(async move {
            let prefix = service.map_or_else(|| PREFIX.to_owned(), service_prefix);
            let options = WatchOptions::new().with_prefix().with_prev_key();
            // Reopened through another member when the one serving it goes silent.
            let client = self.client.clone();
            let watch = crate::etcd::Watch::start(client, prefix, options, None)
                .await
                .map_err(|err| self.unreachable(err))?;
            let addresses = self.addresses();
            let events = futures_util::stream::unfold(
                (watch, Vec::<Event>::new(), addresses),
                |(mut watch, mut pending, addresses)| async move {
                    loop {
                        if let Some(event) = pending.pop() {
                            return Some((Ok(event), (watch, pending, addresses)));
                        }
                        match watch.next().await {
                            Ok(response) => {
                                pending = response.events().iter().filter_map(event).collect();
                                pending.reverse();
                            }
                            Err(err) => {
                                let error = Error::new(
                                    ErrorKind::Unavailable,
                                    format!("the etcd watch at {addresses} failed: {err}"),
                                );
                                return Some((Err(error), (watch, Vec::new(), addresses)));
                            }
                        }
                    }
                },
            );
            Ok(Watcher::new(events))
        })
    }

    fn name(&self) -> &'static str {
        "etcd"
    }
}

/// A registry event from an etcd watch event: a put is a create (new key) or update; a delete is
/// read from the previous value.
fn event(event: &etcd_client::Event) -> Option<Event> {
    match event.event_type() {
        EventType::Put => {
            let kv = event.kv()?;
            let action = if kv.create_revision() == kv.mod_revision() {
                Action::Create
            } else {
                Action::Update
            };
            Some(Event {
                action,
                service: decode(kv)?,
            })
        }
        EventType::Delete => Some(Event {
            action: Action::Delete,
            service: decode(event.prev_kv()?)?,
        }),
    }
}
