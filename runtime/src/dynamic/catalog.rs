//! [`Catalog`]: the descriptors of the services a gateway calls, fetched once per service and
//! refreshed as they are redeployed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{Descriptors, Method};
use crate::{Client, Status};

/// How long fetched descriptors are trusted before they are fetched again.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30);

/// A cache of services' [`Descriptors`], by service name, for callers of many services (the
/// API gateway, the dashboard). Descriptors are fetched on first use and again after the
/// refresh interval, or sooner when an endpoint is missing (the service may have been
/// redeployed with it). Cheap to clone; clones share the cache.
#[derive(Debug, Clone)]
pub struct Catalog {
    client: Client,
    refresh: Duration,
    services: Arc<Mutex<HashMap<String, Entry>>>,
}

#[derive(Debug, Clone)]
struct Entry {
    descriptors: Arc<Descriptors>,
    fetched: Instant,
}

/// A missing endpoint fetches the descriptors again at most this often.
const MISSING_REFETCH: Duration = Duration::from_secs(1);

impl Catalog {
    /// A catalog fetching through `client`, refreshed every [`DEFAULT_REFRESH`].
    pub fn new(client: Client) -> Catalog {
        Catalog::with_refresh(client, DEFAULT_REFRESH)
    }

    /// A catalog whose descriptors are fetched again after `refresh`.
    pub fn with_refresh(client: Client, refresh: Duration) -> Catalog {
        Catalog {
            client,
            refresh,
            services: Arc::default(),
        }
    }

    /// The client calls go through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The descriptors of `service`, cached or fetched.
    pub async fn descriptors(&self, service: &str) -> Result<Arc<Descriptors>, Status> {
        match self.cached(service) {
            Some(entry) if entry.fetched.elapsed() < self.refresh => Ok(entry.descriptors),
            _ => self.fetch(service).await,
        }
    }

    /// The method `endpoint` of `service` (see [`Descriptors::method`]).
    pub async fn method(&self, service: &str, endpoint: &str) -> Result<Method, Status> {
        let descriptors = self.descriptors(service).await?;
        match descriptors.method(endpoint) {
            Err(status) if status.code() == crate::Code::NotFound && self.stale(service) => {
                self.fetch(service).await?.method(endpoint)
            }
            found => found,
        }
    }

    /// Forgets `service`'s descriptors, so the next call fetches them.
    pub fn forget(&self, service: &str) {
        self.lock().remove(service);
    }

    fn stale(&self, service: &str) -> bool {
        self.cached(service)
            .is_none_or(|entry| entry.fetched.elapsed() >= MISSING_REFETCH)
    }

    fn cached(&self, service: &str) -> Option<Entry> {
        self.lock().get(service).cloned()
    }

    async fn fetch(&self, service: &str) -> Result<Arc<Descriptors>, Status> {
        let descriptors = Arc::new(Descriptors::fetch(&self.client, service, None).await?);
        let entry = Entry {
            descriptors: descriptors.clone(),
            fetched: Instant::now(),
        };
        self.lock().insert(service.to_owned(), entry);
        Ok(descriptors)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
