//! The in-process registry: for tests, single-process apps and embedding. Nodes registered with
//! a TTL expire unless refreshed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::{Action, BoxFuture, Error, ErrorKind, Event, Node, Registry, Service, Watcher};

/// How often expired nodes are removed (and watchers told).
const PRUNE_INTERVAL: Duration = Duration::from_secs(1);
/// Events a slow watcher may fall behind by before it is told it missed some.
const WATCH_BUFFER: usize = 1024;

/// An in-memory [`Registry`]. Clones share the same registrations.
#[derive(Debug, Clone)]
pub struct MemoryRegistry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// name → version → registration.
    services: Mutex<BTreeMap<String, BTreeMap<String, Registration>>>,
    events: broadcast::Sender<Event>,
    pruning: AtomicBool,
}

/// One version of a service and its nodes, each with its expiry.
#[derive(Debug)]
struct Registration {
    service: Service,
    nodes: BTreeMap<String, (Node, Option<Instant>)>,
}

impl Registration {
    fn snapshot(&self) -> Service {
        let nodes = self.nodes.values().map(|(node, _)| node.clone()).collect();
        Service {
            nodes,
            ..self.service.clone()
        }
    }
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> MemoryRegistry {
        let (events, _) = broadcast::channel(WATCH_BUFFER);
        MemoryRegistry {
            inner: Arc::new(Inner {
                services: Mutex::new(BTreeMap::new()),
                events,
                pruning: AtomicBool::new(false),
            }),
        }
    }

    fn services(&self) -> MutexGuard<'_, BTreeMap<String, BTreeMap<String, Registration>>> {
        self.inner
            .services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, action: Action, service: Service) {
        // No watchers is fine.
        let _ = self.inner.events.send(Event { action, service });
    }

    /// Starts the task that expires nodes, once, the first time a TTL is used.
    fn start_pruning(&self) {
        if self.inner.pruning.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(PRUNE_INTERVAL);
            loop {
                interval.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                MemoryRegistry { inner }.prune(Instant::now());
            }
        });
    }

    /// Removes nodes whose TTL ran out, telling watchers.
    fn prune(&self, now: Instant) {
        let mut expired = Vec::new();
        {
            let mut services = self.services();
            for versions in services.values_mut() {
                for registration in versions.values_mut() {
                    let gone: Vec<String> = registration
                        .nodes
                        .iter()
                        .filter(|(_, (_, expiry))| expiry.is_some_and(|at| at <= now))
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in gone {
                        if let Some((node, _)) = registration.nodes.remove(&id) {
                            expired.push(registration.service.with_only_node(&node));
                        }
                    }
                }
                versions.retain(|_, registration| !registration.nodes.is_empty());
            }
            services.retain(|_, versions| !versions.is_empty());
        }
        for service in expired {
            self.publish(Action::Delete, service);
        }
    }
}

impl Default for MemoryRegistry {
    fn default() -> Self {
        MemoryRegistry::new()
    }
}

impl Registry for MemoryRegistry {
    fn register<'a>(
        &'a self,
        service: &'a Service,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            validate(service)?;
            if ttl.is_some() {
                self.start_pruning();
            }
            let expiry = ttl.map(|ttl| Instant::now() + ttl);
            let mut created = Vec::new();
            let mut updated = Vec::new();
            {
                let mut services = self.services();
                let registration = services
                    .entry(service.name.clone())
                    .or_default()
                    .entry(service.version.clone())
                    .or_insert_with(|| Registration {
                        service: service.clone(),
                        nodes: BTreeMap::new(),
                    });
                registration.service = Service {
                    nodes: Vec::new(),
                    ..service.clone()
                };
                for node in &service.nodes {
                    let previous = registration
                        .nodes
                        .insert(node.id.clone(), (node.clone(), expiry));
                    match previous {
                        None => created.push(node.clone()),
                        Some((old, _)) if old != *node => updated.push(node.clone()),
                        Some(_) => {}
                    }
                }
            }
            if !created.is_empty() {
                self.publish(
                    Action::Create,
                    Service {
                        nodes: created,
                        ..service.clone()
                    },
                );
            }
            if !updated.is_empty() {
                self.publish(
                    Action::Update,
                    Service {
                        nodes: updated,
                        ..service.clone()
                    },
                );
            }
            Ok(())
        })
    }

    fn deregister<'a>(&'a self, service: &'a Service) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut removed = Vec::new();
            {
                let mut services = self.services();
                if let Some(versions) = services.get_mut(&service.name) {
                    if let Some(registration) = versions.get_mut(&service.version) {
                        for node in &service.nodes {
                            if let Some((node, _)) = registration.nodes.remove(&node.id) {
                                removed.push(node);
                            }
                        }
                        if registration.nodes.is_empty() {
                            versions.remove(&service.version);
                        }
                    }
                    if versions.is_empty() {
                        services.remove(&service.name);
                    }
                }
            }
            if !removed.is_empty() {
                self.publish(
                    Action::Delete,
                    Service {
                        nodes: removed,
                        ..service.clone()
                    },
                );
            }
            Ok(())
        })
    }

    fn get_service<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Service>, Error>> {
        Box::pin(async move {
            self.prune(Instant::now());
            let services = self.services();
            let versions = services
                .get(name)
                .ok_or_else(|| Error::not_found(name, "memory"))?;
            Ok(versions.values().map(Registration::snapshot).collect())
        })
    }

    fn list_services(&self) -> BoxFuture<'_, Result<Vec<Service>, Error>> {
        Box::pin(async move {
            self.prune(Instant::now());
            let services = self.services();
            Ok(services
                .values()
                .flat_map(|versions| versions.values().map(Registration::snapshot))
                .collect())
        })
    }

    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, Error>> {
        let filter = service.map(str::to_owned);
        let events = BroadcastStream::new(self.inner.events.subscribe()).filter_map(move |event| {
            let item = match event {
                Ok(event) if filter.as_ref().is_none_or(|name| *name == event.service.name) => Some(Ok(event)),
                Ok(_) => None,
                Err(BroadcastStreamRecvError::Lagged(missed)) => Some(Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("the watcher fell behind and missed {missed} registry events; read events faster"),
                ))),
            };
            std::future::ready(item)
        });
        Box::pin(std::future::ready(Ok(Watcher::new(events))))
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

/// Rejects registrations that could never be found or told apart.
pub(crate) fn validate(service: &Service) -> Result<(), Error> {
    if service.name.is_empty() {
        return Err(Error::new(
            ErrorKind::Config,
            "cannot register a service without a name",
        ));
    }
    if let Some(node) = service.nodes.iter().find(|node| node.id.is_empty()) {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "cannot register a node of {} without an id (address {})",
                service.name, node.address
            ),
        ));
    }
    Ok(())
}
