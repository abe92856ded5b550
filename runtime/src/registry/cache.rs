//! A cache in front of a registry for callers: kept current by a watch, refreshed after a TTL,
//! and still answering with the last known nodes while the registry is failing.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::{Action, Error, ErrorKind, Event, Registry, Service, Watcher};

/// How long a cached service is used before it is fetched again, as in go-micro.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// Caches [`Registry::get_service`]. Cheap to clone; clones share the cache.
#[derive(Clone, Debug)]
pub struct Cache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Arc<dyn Registry>,
    ttl: Duration,
    entries: RwLock<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    /// Shared with callers of [`Cache::shared`]; changes replace it (copy on write).
    services: Arc<Vec<Service>>,
    fetched: Instant,
    /// Whether a watch keeps this entry current.
    watched: bool,
}

impl Cache {
    /// A cache of `registry` with the default TTL (one minute).
    pub fn new(registry: Arc<dyn Registry>) -> Cache {
        Cache::with_ttl(registry, DEFAULT_TTL)
    }

    /// A cache of `registry` whose entries are fetched again after `ttl`.
    pub fn with_ttl(registry: Arc<dyn Registry>, ttl: Duration) -> Cache {
        Cache {
            inner: Arc::new(Inner {
                registry,
                ttl,
                entries: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The registry behind the cache.
    pub fn registry(&self) -> &Arc<dyn Registry> {
        &self.inner.registry
    }

    /// The versions and nodes of `name`: from the cache while fresh, else from the registry. If
    /// the registry fails, the last known nodes are returned (with a warning) rather than the
    /// error, so callers keep working through a registry outage.
    pub async fn get_service(&self, name: &str) -> Result<Vec<Service>, Error> {
        self.shared(name).await.map(Arc::unwrap_or_clone)
    }

    /// Like [`get_service`](Self::get_service), without copying: the same `Arc` until the
    /// service changes, so callers can tell cheaply whether it did.
    pub(crate) async fn shared(&self, name: &str) -> Result<Arc<Vec<Service>>, Error> {
        if let Some(services) = self.fresh(name) {
            return Ok(services);
        }
        // Watch before reading, so no change between the read and the watch is missed.
        let watcher = match self.watched(name) {
            true => None,
            false => self.inner.registry.watch(Some(name)).await.ok(),
        };
        match self.inner.registry.get_service(name).await {
            Ok(services) => {
                let services = Arc::new(services);
                self.store(name, services.clone(), watcher);
                Ok(services)
            }
            Err(err) if err.kind() == ErrorKind::NotFound => {
                self.entries().remove(name);
                Err(err)
            }
            Err(err) => match self.stale(name) {
                Some((services, age)) => {
                    tracing::warn!(
                        service = name,
                        registry = self.inner.registry.name(),
                        error = %err,
                        "registry failed; using nodes cached {}s ago",
                        age.as_secs()
                    );
                    Ok(services)
                }
                None => Err(err),
            },
        }
    }

    fn entries(&self) -> RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.inner
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads without blocking other readers: every call looks its service up here.
    fn read_entries(&self) -> RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.inner
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fresh(&self, name: &str) -> Option<Arc<Vec<Service>>> {
        let entries = self.read_entries();
        let entry = entries.get(name)?;
        (entry.fetched.elapsed() < self.inner.ttl).then(|| entry.services.clone())
    }

    fn stale(&self, name: &str) -> Option<(Arc<Vec<Service>>, Duration)> {
        let entries = self.read_entries();
        let entry = entries
            .get(name)
            .filter(|entry| !entry.services.is_empty())?;
        Some((entry.services.clone(), entry.fetched.elapsed()))
    }

    fn watched(&self, name: &str) -> bool {
        self.read_entries()
            .get(name)
            .is_some_and(|entry| entry.watched)
    }

    fn store(&self, name: &str, services: Arc<Vec<Service>>, watcher: Option<Watcher>) {
        let mut entries = self.entries();
        let entry = entries.entry(name.to_owned()).or_insert_with(|| Entry {
            services: Arc::default(),
            fetched: Instant::now(),
            watched: false,
        });
        entry.services = services;
        entry.fetched = Instant::now();
        if let Some(watcher) = watcher.filter(|_| !entry.watched) {
            entry.watched = true;
            tokio::spawn(follow(
                Arc::downgrade(&self.inner),
                name.to_owned(),
                watcher,
            ));
        }
    }
}

/// Applies the registry's changes to one cached service until the cache is dropped or the watch
/// fails (the TTL then takes over).
async fn follow(cache: Weak<Inner>, name: String, mut watcher: Watcher) {
    while let Some(event) = watcher.next().await {
        let Some(inner) = cache.upgrade() else { return };
        match event {
            Ok(event) => apply(&mut Cache { inner }.entries(), &name, event),
            Err(err) => {
                tracing::debug!(service = %name, error = %err, "registry watch failed; relying on the TTL");
                break;
            }
        }
    }
    unwatched(&cache, &name);
}

fn unwatched(cache: &Weak<Inner>, name: &str) {
    if let Some(inner) = cache.upgrade()
        && let Some(entry) = (Cache { inner }).entries().get_mut(name)
    {
        entry.watched = false;
    }
}

/// Updates a cached service with one event.
fn apply(entries: &mut HashMap<String, Entry>, name: &str, event: Event) {
    let Some(entry) = entries.get_mut(name) else {
        return;
    };
    let changed = event.service;
    let services = Arc::make_mut(&mut entry.services);
    let position = services.iter().position(|s| s.version == changed.version);
    match (event.action, position) {
        (Action::Create | Action::Update, Some(index)) => {
            let service = &mut services[index];
            for node in changed.nodes {
                match service.nodes.iter_mut().find(|known| known.id == node.id) {
                    Some(known) => *known = node,
                    None => service.nodes.push(node),
                }
            }
        }
        (Action::Create | Action::Update, None) => services.push(changed),
        (Action::Delete, Some(index)) => {
            let service = &mut services[index];
            service
                .nodes
                .retain(|node| !changed.nodes.iter().any(|gone| gone.id == node.id));
            if service.nodes.is_empty() {
                services.remove(index);
            }
        }
        // A removal that does not say its version (an mDNS goodbye for an unknown node).
        (Action::Delete, None) if changed.version.is_empty() => {
            for service in services.iter_mut() {
                service
                    .nodes
                    .retain(|node| !changed.nodes.iter().any(|gone| gone.id == node.id));
            }
            services.retain(|service| !service.nodes.is_empty());
        }
        (Action::Delete, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{MemoryRegistry, Node};

    fn service(version: &str, ids: &[&str]) -> Service {
        Service {
            name: "svc".into(),
            version: version.into(),
            nodes: ids
                .iter()
                .map(|id| Node {
                    id: (*id).into(),
                    ..Node::default()
                })
                .collect(),
            ..Service::default()
        }
    }

    fn ids(services: &[Service]) -> Vec<String> {
        services
            .iter()
            .flat_map(|s| s.nodes.iter().map(|n| n.id.clone()))
            .collect()
    }

    #[tokio::test]
    async fn the_watch_keeps_the_cache_current() {
        let registry = Arc::new(MemoryRegistry::new());
        registry
            .register(&service("1", &["a"]), None)
            .await
            .unwrap();
        let cache = Cache::new(registry.clone());
        assert_eq!(ids(&cache.get_service("svc").await.unwrap()), ["a"]);
        registry
            .register(&service("1", &["b"]), None)
            .await
            .unwrap();
        registry.deregister(&service("1", &["a"])).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while ids(&cache.get_service("svc").await.unwrap()) != ["b"] {
            assert!(
                Instant::now() < deadline,
                "the cache did not follow the registry"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn events_add_change_and_remove_nodes() {
        let mut entries = HashMap::from([(
            "svc".to_owned(),
            Entry {
                services: Arc::new(vec![service("1", &["a"])]),
                fetched: Instant::now(),
                watched: true,
            },
        )]);
        apply(
            &mut entries,
            "svc",
            Event {
                action: Action::Create,
                service: service("1", &["b"]),
            },
        );
        apply(
            &mut entries,
            "svc",
            Event {
                action: Action::Create,
                service: service("2", &["c"]),
            },
        );
        assert_eq!(ids(&entries["svc"].services), ["a", "b", "c"]);
        apply(
            &mut entries,
            "svc",
            Event {
                action: Action::Delete,
                service: service("1", &["a", "b"]),
            },
        );
        assert_eq!(ids(&entries["svc"].services), ["c"]);
        assert_eq!(
            entries["svc"].services.len(),
            1,
            "an empty version is dropped"
        );
    }
}
