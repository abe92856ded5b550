//! go-micro's default registry: multicast DNS, zero configuration, one network segment.
//!
//! Wire-compatible with go-micro's: domain `micro.`, a node of `svc` is the instance
//! `<nodeId>.svc.micro.` whose TXT record holds go-micro's encoded payload, and every service
//! is listed under `_services.micro.`. Registering announces the node; deregistering (or a
//! registration whose TTL lapses) says goodbye with TTL 0; lookups are live queries.

mod daemon;
pub(crate) mod packet;
mod socket;
pub(crate) mod txt;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Once};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_stream::wrappers::BroadcastStream;

use super::{Action, BoxFuture, Error, ErrorKind, Event, Node, Registry, Service, Watcher};
use daemon::Daemon;
use packet::{Collector, Instance, Seen};

/// How long a lookup listens for answers. go-micro uses 100 ms; a little more copes with busy
/// hosts.
const QUERY_TIMEOUT: Duration = Duration::from_millis(250);
/// Record TTL when a registration has none, as go-micro sets it.
const DEFAULT_RECORD_TTL: u32 = 120;

/// An mDNS [`Registry`]. Opens its socket on first use.
#[derive(Debug, Default)]
pub struct MdnsRegistry {
    daemon: OnceCell<Option<Arc<Daemon>>>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").finish_non_exhaustive()
    }
}

/// Warns, once per process, that mDNS does not work here and what to use instead.
pub(crate) fn warn_once(reason: &str) {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "mDNS is unavailable ({reason}): other processes and hosts cannot find services \
             registered here, nor be found. Where multicast does not work (containers, some \
             clouds), pass --registry etcd --registry-address <host:port>"
        );
    });
}

impl MdnsRegistry {
    /// An mDNS registry.
    pub fn new() -> MdnsRegistry {
        MdnsRegistry::default()
    }

    /// The responder, started on first use; `None` (after a warning) when multicast is
    /// unavailable.
    async fn daemon(&self) -> Option<Arc<Daemon>> {
        self.daemon
            .get_or_init(|| async {
                Daemon::start()
                    .map_err(|err| warn_once(&err.to_string()))
                    .ok()
            })
            .await
            .clone()
    }

    async fn require_daemon(&self) -> Result<Arc<Daemon>, Error> {
        self.daemon().await.ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                "mDNS is unavailable on this host (no interface carries multicast); pass \
                 --registry etcd --registry-address <host:port>",
            )
        })
    }

    /// Browses `service` and returns every instance that answered within the timeout.
    async fn browse(&self, service: &str) -> Result<Vec<Seen>, Error> {
        let daemon = self.require_daemon().await?;
        let query = packet::browse(service).map_err(|err| Error::new(ErrorKind::Config, err))?;
        let mut heard = daemon.listen();
        daemon.query(&query).await.map_err(|err| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot send an mDNS query: {err}"),
            )
        })?;
        let mut collector = Collector::default();
        let deadline = Instant::now() + QUERY_TIMEOUT;
        while let Ok(Ok(message)) = tokio::time::timeout_at(deadline, heard.recv()).await {
            collector.read(&message);
        }
        let wanted = service.to_ascii_lowercase();
        Ok(collector
            .instances
            .into_values()
            .filter(|seen| seen.service == wanted && !seen.goodbye)
            .collect())
    }
}

/// The records for one node of `service`.
fn node_instance(service: &Service, node: &Node) -> Result<Instance, Error> {
    let (ip, port) = split_address(&node.address).ok_or_else(|| {
        Error::new(
            ErrorKind::Config,
            format!(
                "node {} of {} has address `{}`; mDNS needs ip:port",
                node.id, service.name, node.address
            ),
        )
    })?;
    let payload = txt::Txt {
        metadata: node.metadata.clone(),
        service: service.name.clone(),
        version: service.version.clone(),
        endpoints: service.endpoints.clone(),
    };
    Ok(Instance {
        service: service.name.clone(),
        instance: node.id.clone(),
        host: format!("{}.{}.", node.id, packet::DOMAIN),
        ip: Some(ip),
        port,
        txt: txt::encode(&payload),
    })
}

fn split_address(address: &str) -> Option<(IpAddr, u16)> {
    let address: SocketAddr = address.parse().ok()?;
    Some((address.ip(), address.port()))
}

/// A service with one node, from what an instance answered; `None` (with a warning) if its TXT
/// cannot be read.
pub(crate) fn seen_service(seen: &Seen) -> Option<Service> {
    let strings = seen.txt.as_ref()?;
    let address = seen.address()?;
    let payload = match txt::decode(strings) {
        Ok(payload) => payload,
        Err(err) => {
            tracing::warn!(instance = %seen.instance, service = %seen.service, error = %err, "skipping an mDNS entry whose TXT is not go-micro's");
            return None;
        }
    };
    Some(Service {
        name: payload.service,
        version: payload.version,
        metadata: BTreeMap::new(),
        endpoints: payload.endpoints,
        nodes: vec![Node {
            id: seen.instance.clone(),
            address,
            metadata: payload.metadata,
        }],
    })
}

impl Registry for MdnsRegistry {
    fn register<'a>(
        &'a self,
        service: &'a Service,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            super::memory::validate(service)?;
            let Some(daemon) = self.daemon().await else {
                return Ok(());
            };
            let record_ttl = ttl.map_or(DEFAULT_RECORD_TTL, |ttl| {
                ttl.as_secs().clamp(1, u64::from(u32::MAX)) as u32
            });
            let expiry = ttl.map(|ttl| Instant::now() + ttl);
            let services = Instance::services_entry(&service.name);
            daemon
                .publish(&services, record_ttl, expiry)
                .await
                .map_err(|err| Error::new(ErrorKind::Config, err))?;
            for node in &service.nodes {
                let instance = node_instance(service, node)?;
                daemon
                    .publish(&instance, record_ttl, expiry)
                    .await
                    .map_err(|err| Error::new(ErrorKind::Config, err))?;
            }
            Ok(())
        })
    }

    fn deregister<'a>(&'a self, service: &'a Service) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Some(daemon) = self.daemon().await else {
                return Ok(());
            };
            for node in &service.nodes {
                daemon
                    .retract(&packet::instance_name(&node.id, &service.name))
                    .await;
            }
            if !daemon.publishes(&service.name) {
                daemon
                    .retract(&packet::instance_name(&service.name, packet::SERVICES))
                    .await;
            }
            Ok(())
        })
    }

    fn get_service<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Service>, Error>> {
        Box::pin(async move {
            let mut versions: BTreeMap<String, Service> = BTreeMap::new();
            for found in self.browse(name).await?.iter().filter_map(seen_service) {
                let entry = versions
                    .entry(found.version.clone())
                    .or_insert_with(|| Service {
                        nodes: Vec::new(),
                        ..found.clone()
                    });
                entry.nodes.extend(found.nodes);
            }
            if versions.is_empty() {
                return Err(Error::not_found(name, "mdns"));
            }
            Ok(versions.into_values().collect())
        })
    }

    fn list_services(&self) -> BoxFuture<'_, Result<Vec<Service>, Error>> {
        Box::pin(async move {
            let mut names: Vec<String> = self
                .browse(packet::SERVICES)
                .await?
                .into_iter()
                .map(|seen| seen.instance)
                .collect();
            names.sort();
            names.dedup();
            Ok(names
                .into_iter()
                .map(|name| Service {
                    name,
                    ..Service::default()
                })
                .collect())
        })
    }

    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, Error>> {
        Box::pin(async move {
            let daemon = self.require_daemon().await?;
            let filter = service.map(str::to_ascii_lowercase);
            let mut known: HashMap<String, Service> = HashMap::new();
            let events = BroadcastStream::new(daemon.listen()).flat_map(move |heard| {
                let events = match heard {
                    Ok(message) => changes(&message, filter.as_deref(), &mut known)
                        .into_iter()
                        .map(Ok)
                        .collect(),
                    Err(_) => vec![Err(Error::new(
                        ErrorKind::Unavailable,
                        "the mDNS watcher fell behind and missed responses; read events faster",
                    ))],
                };
                futures_util::stream::iter(events)
            });
            Ok(Watcher::new(events))
        })
    }

    fn name(&self) -> &'static str {
        "mdns"
    }
}

/// The registry events one heard response means, given the nodes already `known` (by instance
/// name): new nodes are created, changed ones updated, goodbyes deleted, repeats ignored.
fn changes(
    message: &hickory_proto::op::Message,
    filter: Option<&str>,
    known: &mut HashMap<String, Service>,
) -> Vec<Event> {
    let mut collector = Collector::default();
    collector.read(message);
    let mut events = Vec::new();
    for (name, seen) in collector.instances {
        if seen.service == packet::SERVICES || filter.is_some_and(|wanted| wanted != seen.service) {
            continue;
        }
        if seen.goodbye {
            // A node seen before, or as the goodbye describes it (possibly just its id).
            let service = known
                .remove(&name)
                .or_else(|| seen_service(&seen))
                .unwrap_or_else(|| Service {
                    name: seen.service.clone(),
                    nodes: vec![Node {
                        id: seen.instance.clone(),
                        ..Node::default()
                    }],
                    ..Service::default()
                });
            events.push(Event {
                action: Action::Delete,
                service,
            });
            continue;
        }
        let Some(service) = seen_service(&seen) else {
            continue;
        };
        let action = match known.get(&name) {
            None => Action::Create,
            Some(previous) if *previous != service => Action::Update,
            Some(_) => continue,
        };
        known.insert(name, service.clone());
        events.push(Event { action, service });
    }
    events
}
