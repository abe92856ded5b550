//! [`RouteTable`]: the google.api.http routes of every registered service, learnt from the
//! registry (service names) and the [`Catalog`] (descriptors by reflection).
//!
//! The table is checked against the registry's service list in the background every
//! [`RECHECK`] (rebuilt when the list changed, or every [`REBUILD`] for redeployed services),
//! and on a miss (at most every [`MISS_RECHECK`]), so a service started after the gateway is
//! routed by its first request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::future::join_all;
use http::Method as HttpMethod;
use micro::dynamic::{Catalog, Method};
use micro::registry::Registry;
use tokio::sync::Mutex;
use tokio::time::Instant;

use micro::http_rule::{self, Binding};

/// How often the table is checked against the registry while requests arrive.
pub(super) const RECHECK: Duration = Duration::from_secs(10);
/// How old the table may get before it is rebuilt even though no service came or went.
pub(super) const REBUILD: Duration = Duration::from_secs(30);
/// A miss checks the registry again at most this often.
pub(super) const MISS_RECHECK: Duration = Duration::from_millis(250);

/// How long one service's descriptors may take while the table is built; a service slower
/// than that gets its routes on a later rebuild.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// A method of a service bound to an HTTP method and path.
#[derive(Debug)]
pub(super) struct RestRoute {
    /// The registered service.
    pub(super) service: String,
    /// Its method.
    pub(super) method: Method,
    /// The rule's HTTP method, path template and body.
    pub(super) binding: Binding,
}

/// A route a request matched, with the path's variables.
#[derive(Debug)]
pub(super) struct Matched {
    /// The route.
    pub(super) route: Arc<RestRoute>,
    /// (field path, value) for each variable of the template.
    pub(super) variables: Vec<(String, String)>,
}

/// The routes of every registered service's google.api.http rules. Cheap to clone.
#[derive(Clone)]
pub(super) struct RouteTable {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<dyn Registry>,
    catalog: Catalog,
    state: RwLock<State>,
    /// One refresh at a time; others wait for it and then find it fresh.
    refreshing: Mutex<()>,
    /// A background refresh is under way.
    background: AtomicBool,
}

#[derive(Default)]
struct State {
    routes: Vec<Arc<RestRoute>>,
    /// The service names the routes were built from, sorted.
    services: Vec<String>,
    /// Some service's descriptors could not be fetched: build again on the next check.
    incomplete: bool,
    checked: Option<Instant>,
    built: Option<Instant>,
}

impl RouteTable {
    /// An empty table, filled on first use.
    pub(super) fn new(registry: Arc<dyn Registry>, catalog: Catalog) -> RouteTable {
        RouteTable {
            inner: Arc::new(Inner {
                registry,
                catalog,
                state: RwLock::default(),
                refreshing: Mutex::new(()),
                background: AtomicBool::new(false),
            }),
        }
    }

    /// The route `method` and `path` match, from the table as it is (refreshing it in the
    /// background when due).
    pub(super) fn find(&self, method: &HttpMethod, path: &str) -> Option<Matched> {
        self.find_where(path, |binding| binding.method == *method)
    }

    /// Whether `service` is registered, as the table's last look at the registry saw it
    /// (looking again, at most every [`MISS_RECHECK`], when it was not there).
    pub(super) async fn lists(&self, service: &str) -> bool {
        let listed = |table: &RouteTable| {
            table
                .read()
                .services
                .binary_search_by(|s| s.as_str().cmp(service))
                .is_ok()
        };
        if listed(self) {
            return true;
        }
        self.refresh_on_miss().await;
        listed(self)
    }

    /// The route a WebSocket upgrade of `path` calls. An upgrade is always a `GET`, so a rule
    /// of another verb answers when no `GET` rule matches `path` (a streaming method's rule is
    /// usually a `post`).
    pub(super) fn find_socket(&self, path: &str) -> Option<Matched> {
        self.find(&HttpMethod::GET, path)
            .or_else(|| self.find_where(path, |_| true))
    }

    /// Like [`RouteTable::find`], after checking the registry for services the table lacks.
    pub(super) async fn find_after_refresh(
        &self,
        method: &HttpMethod,
        path: &str,
    ) -> Option<Matched> {
        self.refresh_on_miss().await;
        self.find(method, path)
    }

    /// Checks the registry for services the table lacks, at most every [`MISS_RECHECK`].
    pub(super) async fn refresh_on_miss(&self) {
        self.refresh(MISS_RECHECK).await;
    }

    /// The first route, most specific first, whose binding `wanted` and whose template
    /// matches `path`.
    fn find_where(&self, path: &str, wanted: impl Fn(&Binding) -> bool) -> Option<Matched> {
        let state = self.read();
        if state.checked.is_some_and(|at| at.elapsed() >= RECHECK) {
            self.refresh_in_background();
        }
        state
            .routes
            .iter()
            .filter(|route| wanted(&route.binding))
            .find_map(|route| {
                let variables = route.binding.template.matches(path)?;
                Some(Matched {
                    route: route.clone(),
                    variables,
                })
            })
    }

    /// Every route, as `METHOD /template → service Endpoint`, for messages.
    pub(super) fn describe(&self) -> Vec<String> {
        self.read()
            .routes
            .iter()
            .map(|route| {
                format!(
                    "{} {} ({} {})",
                    route.binding.method,
                    route.binding.template.as_str(),
                    route.service,
                    route.method.endpoint()
                )
            })
            .collect()
    }

    /// Checks the registry unless that was done within `within`; rebuilds the routes if the
    /// services changed, the table is older than [`REBUILD`] or was left incomplete.
    async fn refresh(&self, within: Duration) {
        let _one_at_a_time = self.inner.refreshing.lock().await;
        if self.read().checked.is_some_and(|at| at.elapsed() < within) {
            return;
        }
        let services = match self.inner.registry.list_services().await {
            Ok(services) => services,
            Err(err) => {
                tracing::warn!("gateway: cannot list services for google.api.http routes: {err}");
                self.write().checked = Some(Instant::now());
                return;
            }
        };
        let mut names: Vec<String> = services.into_iter().map(|service| service.name).collect();
        names.sort();
        names.dedup();
        let stale = {
            let state = self.read();
            state.incomplete
                || state.services != names
                || state.built.is_none_or(|at| at.elapsed() >= REBUILD)
        };
        if stale {
            let (routes, incomplete) = build(&self.inner.catalog, &names).await;
            let mut state = self.write();
            state.routes = routes;
            state.services = names;
            state.incomplete = incomplete;
            state.built = Some(Instant::now());
        }
        self.write().checked = Some(Instant::now());
    }

    fn refresh_in_background(&self) {
        if self.inner.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let table = self.clone();
        tokio::spawn(async move {
            table.refresh(RECHECK).await;
            table.inner.background.store(false, Ordering::Release);
        });
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The routes of `services`, most specific first, and whether some service's descriptors
/// could not be fetched.
async fn build(catalog: &Catalog, services: &[String]) -> (Vec<Arc<RestRoute>>, bool) {
    let fetched = join_all(services.iter().map(|service| async move {
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, catalog.descriptors(service)).await;
        let fetched = fetched.unwrap_or_else(|_| {
            Err(micro::Status::deadline_exceeded(format!(
                "no descriptors within {FETCH_TIMEOUT:?}"
            )))
        });
        (service, fetched)
    }))
    .await;
    let mut routes = Vec::new();
    let mut incomplete = false;
    for (service, descriptors) in fetched {
        let descriptors = match descriptors {
            Ok(descriptors) => descriptors,
            Err(status) => {
                tracing::debug!(
                    "gateway: no google.api.http routes for {service}: {}",
                    status.message()
                );
                incomplete = true;
                continue;
            }
        };
        for method in descriptors.methods() {
            let (bindings, skipped) = http_rule::bindings(method.descriptor());
            for reason in skipped {
                tracing::warn!("gateway: {service}: google.api.http rule left out: {reason}");
            }
            routes.extend(bindings.into_iter().map(|binding| {
                Arc::new(RestRoute {
                    service: service.clone(),
                    method: method.clone(),
                    binding,
                })
            }));
        }
    }
    routes.sort_by_key(|route| std::cmp::Reverse(route.binding.template.specificity()));
    (routes, incomplete)
}
