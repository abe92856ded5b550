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

/// A missing endpoint fetches the descriptors again at most this often.
const MISSING_REFETCH: Duration = Duration::from_secs(1);

/// A cache of services' [`Descriptors`], by service name, for callers of many services (the
/// API gateway, the dashboard). Cheap to clone; clones share the cache.
///
/// Descriptors are fetched on first use; concurrent first calls wait for one fetch. After
/// the refresh interval they are fetched again in the background while calls go on with the
/// ones cached, and sooner when an endpoint is missing (the service may have been redeployed
/// with it).
#[derive(Debug, Clone)]
pub struct Catalog {
    client: Client,
    refresh: Duration,
    services: Arc<Mutex<HashMap<String, Slot>>>,
}

/// One service's cache slot.
#[derive(Debug, Clone, Default)]
struct Slot {
    cached: Option<Entry>,
    /// Held while the service's descriptors are being fetched, so one fetch runs at a time.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Clone)]
struct Entry {
    descriptors: Arc<Descriptors>,
    fetched: Instant,
}

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
        let slot = self.slot(service);
        match slot.cached {
            Some(entry) if entry.fetched.elapsed() < self.refresh => Ok(entry.descriptors),
            Some(stale) => {
                self.refresh_in_background(service, &slot.fetching);
                Ok(stale.descriptors)
            }
            None => self.fetch(service, None).await,
        }
    }

    /// The method `endpoint` of `service` (see [`Descriptors::method`]).
    pub async fn method(&self, service: &str, endpoint: &str) -> Result<Method, Status> {
        let descriptors = self.descriptors(service).await?;
        match descriptors.method(endpoint) {
            Err(status) if status.code() == crate::Code::NotFound => {
                let fetched = self.slot(service).cached.map(|entry| entry.fetched);
                match fetched {
                    Some(fetched) if fetched.elapsed() >= MISSING_REFETCH => {
                        self.fetch(service, Some(fetched)).await?.method(endpoint)
                    }
                    _ => Err(status),
                }
            }
            found => found,
        }
    }

    /// The method `endpoint` of `service` if the cached, fresh descriptors have it; never
    /// fetches.
    pub fn cached_method(&self, service: &str, endpoint: &str) -> Option<Method> {
        let entry = self.slot(service).cached?;
        (entry.fetched.elapsed() < self.refresh)
            .then(|| entry.descriptors.method(endpoint).ok())
            .flatten()
    }

    /// Forgets `service`'s descriptors, so the next call fetches them.
    pub fn forget(&self, service: &str) {
        self.lock().remove(service);
    }

    fn slot(&self, service: &str) -> Slot {
        let mut services = self.lock();
        if let Some(slot) = services.get(service) {
            return slot.clone();
        }
        services.entry(service.to_owned()).or_default().clone()
    }

    /// Fetches `service`'s descriptors, one fetch at a time: a caller that waited for another's
    /// fetch takes its result, unless the cache still holds what it saw (`seen`) or nothing.
    async fn fetch(
        &self,
        service: &str,
        seen: Option<Instant>,
    ) -> Result<Arc<Descriptors>, Status> {
        let fetching = self.slot(service).fetching;
        let _fetching = fetching.lock().await;
        if let Some(entry) = self.slot(service).cached
            && Some(entry.fetched) != seen
            && entry.fetched.elapsed() < self.refresh
        {
            return Ok(entry.descriptors);
        }
        let descriptors = Arc::new(Descriptors::fetch(&self.client, service, None).await?);
        let entry = Entry {
            descriptors: descriptors.clone(),
            fetched: Instant::now(),
        };
        self.lock().entry(service.to_owned()).or_default().cached = Some(entry);
        Ok(descriptors)
    }

    /// Starts a fetch of `service`'s descriptors unless one is running; a failed refresh keeps
    /// the cached ones (and is retried by the next call).
    fn refresh_in_background(&self, service: &str, fetching: &Arc<tokio::sync::Mutex<()>>) {
        if fetching.try_lock().is_err() {
            return;
        }
        let catalog = self.clone();
        let service = service.to_owned();
        let seen = self.slot(&service).cached.map(|entry| entry.fetched);
        tokio::spawn(async move {
            if let Err(status) = catalog.fetch(&service, seen).await {
                tracing::warn!(%service, error = %status.message(), "refreshing descriptors failed; keeping the cached ones");
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
