//! [`MethodCache`]: methods already resolved, by service and endpoint, so a request does not
//! look through the service's descriptors (and intern the method) every time.

use std::collections::HashMap;
use std::sync::RwLock;

use micro::dynamic::{DEFAULT_REFRESH, Method};
use tokio::time::Instant;

/// A service's resolved endpoints, with when each was resolved.
type Endpoints = HashMap<String, (Method, Instant)>;

/// Resolved methods, trusted for as long as the catalog trusts the descriptors they came from.
#[derive(Default)]
pub(super) struct MethodCache {
    services: RwLock<HashMap<String, Endpoints>>,
}

impl MethodCache {
    /// The method `endpoint` of `service` resolved within the last [`DEFAULT_REFRESH`].
    pub(super) fn get(&self, service: &str, endpoint: &str) -> Option<Method> {
        let services = self
            .services
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (method, resolved) = services.get(service)?.get(endpoint)?;
        (resolved.elapsed() < DEFAULT_REFRESH).then(|| method.clone())
    }

    /// Remembers that `endpoint` of `service` is `method`.
    pub(super) fn insert(&self, service: &str, endpoint: &str, method: Method) {
        let mut services = self
            .services
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        services
            .entry(service.to_owned())
            .or_default()
            .insert(endpoint.to_owned(), (method, Instant::now()));
    }
}
