//! The balancer: resolves the called service through the registry cache, filters its nodes,
//! picks one with the selector strategy, and sends the request over that node's pooled
//! connections (or, to go-micro nodes registered with `protocol=mucp`, over go-micro's RPC
//! protocol).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context as TaskContext, Poll};

use http_body::{Body as HttpBody, Frame, SizeHint};

use super::CallTarget;
use super::failure::Failure;
use super::mucp::{self, Mucp};
use super::pool::Pool;
use super::route::{Route, Tried};
use crate::Status;
use crate::codec::FrameLimit;
use crate::codec::frame::GRPC_STATUS;
use crate::registry::{Cache, ErrorKind, Node, Service};
use crate::rpc::Body;
use crate::selector::{LoadGuard, NodeHealth, Outliers, Selector, Strategy};

/// Where calls go when they do not name an address.
#[derive(Debug, Clone)]
pub(crate) enum Destination {
    /// Always this `host:port`.
    Address(String),
    /// The nodes the registry lists for the called service.
    Registry(Cache),
}

/// How the balancer chooses and reaches nodes.
#[derive(Debug)]
pub(crate) struct BalanceOptions {
    pub(crate) destination: Destination,
    pub(crate) selector: Selector,
    pub(crate) pool: Arc<Pool>,
    pub(crate) max_message_size: usize,
    /// How long connecting to a node may take (mucp nodes; the pool has its own copy).
    pub(crate) connect_timeout: std::time::Duration,
}

/// A tower service sending each request to one node; clones share state.
#[derive(Debug, Clone)]
pub(crate) struct Balance {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    options: BalanceOptions,
    /// Calls to go-micro nodes that speak its RPC protocol rather than gRPC.
    mucp: Mucp,
    /// The nodes last seen per service, to close connections to nodes that leave.
    seen: RwLock<HashMap<Arc<str>, Arc<Vec<Service>>>>,
}

impl Balance {
    pub(crate) fn new(options: BalanceOptions) -> Balance {
        Balance {
            shared: Arc::new(Shared {
                mucp: Mucp::new(options.connect_timeout),
                options,
                seen: RwLock::new(HashMap::new()),
            }),
        }
    }
}

impl Balance {
    /// Sends `request` to one node: the one its route names, the client's address, or one the
    /// registry lists for the called service.
    pub(crate) fn send(
        &self,
        request: http::Request<Body>,
    ) -> impl Future<Output = Result<http::Response<Body>, Failure>> + Send + '_ {
        self.shared.send(request)
    }
}

impl Shared {
    async fn send(&self, request: http::Request<Body>) -> Result<http::Response<Body>, Failure> {
        let route = request.extensions().get::<Route>();
        let strategy = route.and_then(|route| route.strategy);
        let strategy = strategy.unwrap_or(self.options.selector.strategy());
        let chosen = route.and_then(|route| route.address.as_ref().map(ToString::to_string));
        let tried = request.extensions().get::<Tried>().cloned();
        // The registry's nodes, kept while the picked node's address is borrowed from them.
        let services;
        let (address, speaks_mucp) = match (&chosen, &self.options.destination) {
            (Some(address), _) => (address.as_str(), false),
            (None, Destination::Address(address)) => (address.as_str(), false),
            (None, Destination::Registry(cache)) => {
                let target = request.extensions().get::<CallTarget>().ok_or_else(|| {
                    Failure::early(Status::internal(
                        "the request names no service; client layers must keep its extensions",
                    ))
                })?;
                services = self.resolve(cache, target).await?;
                let node = self
                    .pick(&services, cache, strategy, target, tried.as_ref())
                    .map_err(Failure::early)?;
                (node.address.as_str(), mucp::speaks_mucp(node))
            }
        };
        if let Some(tried) = &tried {
            tried.push(address);
        }
        let outliers = self.options.selector.outliers();
        let node = outliers.node(address);
        if speaks_mucp {
            let sent = self.mucp.send(address, request).await;
            match &sent {
                Ok(_) => {
                    outliers.connection(address, &node, true);
                    outliers.record(&node, true);
                }
                Err(failure) if failure.connection => outliers.connection(address, &node, false),
                Err(_) => {}
            }
            return sent;
        }
        let connection = self
            .options
            .pool
            .connection(address)
            .map_err(Failure::early)?;
        let stream = connection.start_stream();
        match connection.send(request).await {
            Ok(response) => {
                outliers.connection(address, &node, true);
                // A trailers-only response says how the call went now; others at the end.
                let outcome = match response.headers().get(&GRPC_STATUS) {
                    Some(code) => {
                        outliers.record(&node, !outliers.is_failure(code.as_bytes()));
                        None
                    }
                    None => Some((outliers.clone(), node)),
                };
                let limit = self.options.max_message_size;
                Ok(response.map(|body| {
                    Body::new(InFlight {
                        body: FrameLimit::new(body, limit),
                        _stream: stream,
                        outcome,
                    })
                }))
            }
            Err(failure) => {
                if failure.connection {
                    outliers.connection(address, &node, false);
                }
                Err(failure)
            }
        }
    }

    /// The called service's nodes, from the registry cache.
    async fn resolve(
        &self,
        cache: &Cache,
        target: &CallTarget,
    ) -> Result<Arc<Vec<Service>>, Failure> {
        let services = cache
            .shared(&target.service)
            .await
            .map_err(|err| Failure::early(lookup_failed(cache, target, &err)))?;
        self.forget_departed(&target.service, &services);
        Ok(services)
    }

    /// Picks one of the nodes of `services` for this attempt ([`Selector::select`]).
    fn pick<'a>(
        &self,
        services: &'a [Service],
        cache: &Cache,
        strategy: Strategy,
        target: &CallTarget,
        tried: Option<&Tried>,
    ) -> Result<&'a Node, Status> {
        let tried = tried.filter(|tried| !tried.is_empty());
        let tried_address = tried.map(|tried| move |address: &str| tried.contains(address));
        let tried_address = tried_address.as_ref().map(|f| f as &dyn Fn(&str) -> bool);
        let pool = &self.options.pool;
        let load = |address: &str| pool.in_flight(address);
        self.options
            .selector
            .select(services, &target.service, strategy, tried_address, &load)
            .ok_or_else(|| self.none_match(cache, target, services))
    }

    /// Closes the connections of nodes that left `service` since the last call.
    fn forget_departed(&self, service: &Arc<str>, services: &Arc<Vec<Service>>) {
        let unchanged = self
            .seen
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(service)
            .is_some_and(|previous| Arc::ptr_eq(previous, services));
        if unchanged {
            return;
        }
        let mut seen = self
            .seen
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let previous = match seen.get(service) {
            Some(previous) if Arc::ptr_eq(previous, services) => return,
            Some(previous) => previous.clone(),
            None => {
                seen.insert(service.clone(), services.clone());
                return;
            }
        };
        seen.insert(service.clone(), services.clone());
        drop(seen);
        let current = addresses(services);
        for gone in addresses(&previous)
            .into_iter()
            .filter(|a| !current.contains(a))
        {
            self.options.pool.remove(gone);
        }
    }

    fn none_match(&self, cache: &Cache, target: &CallTarget, services: &[Service]) -> Status {
        let registry = cache.registry().name();
        let service = &target.service;
        match services.iter().all(|service| service.nodes.is_empty()) {
            true => Status::unavailable(format!(
                "service `{service}` has no nodes in the {registry} registry; is it running?"
            )),
            false => Status::unavailable(format!(
                "no node of `{service}` in the {registry} registry matches the client's filter {:?}",
                self.options.selector.filter()
            )),
        }
    }
}

fn addresses(services: &[Service]) -> Vec<&str> {
    services
        .iter()
        .flat_map(|service| service.nodes.iter().map(|node| node.address.as_str()))
        .collect()
}

/// The registry could not say where `target` runs.
fn lookup_failed(cache: &Cache, target: &CallTarget, err: &crate::registry::Error) -> Status {
    let registry = cache.registry().name();
    let service = &target.service;
    match err.kind() {
        ErrorKind::NotFound => Status::not_found(format!(
            "service `{service}` not found in the {registry} registry; is it running and \
             registered with the same registry?"
        )),
        _ => Status::unavailable(format!(
            "cannot look up service `{service}` in the {registry} registry: {err}"
        )),
    }
}

/// A response body that counts as one call in flight on its connection (what least-loaded
/// picking and the pool's growth go by) until it ends, and reports how the call ended (its
/// trailers' status) to outlier detection.
struct InFlight<B> {
    body: B,
    _stream: LoadGuard,
    /// Where the outcome goes, until it has been reported.
    outcome: Option<(Arc<Outliers>, Arc<NodeHealth>)>,
}

impl<B> InFlight<B> {
    fn report(&mut self, succeeded: bool) {
        if let Some((outliers, node)) = self.outcome.take() {
            outliers.record(&node, succeeded);
        }
    }
}

impl<B: HttpBody + Unpin> HttpBody for InFlight<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if self.outcome.is_some() {
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(trailers) = frame.trailers_ref() {
                        let failed = trailers.get(&GRPC_STATUS).is_some_and(|code| {
                            self.outcome
                                .as_ref()
                                .is_some_and(|(outliers, _)| outliers.is_failure(code.as_bytes()))
                        });
                        self.report(!failed);
                    }
                }
                Poll::Ready(Some(Err(_))) => self.report(false),
                Poll::Ready(None) | Poll::Pending => {}
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
