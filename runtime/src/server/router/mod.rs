//! Routes each request on the port: by protocol (content type and headers), then by method (the
//! gRPC path or go-micro's `Micro-Endpoint`) to a handler, or to a built-in service.

mod protocols;
mod refusals;
mod rest;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use tokio::time::Instant;
use tower::ServiceExt;

use super::Error;
use super::builtin::BuiltinService;
use super::call::{CallMeta, CallSettings};
use super::leftover::Leftover;
use super::pipeline::{self, CallPipeline, CallResult};
use super::probes::{Probe, Probes};
use super::protocol::{Protocol, connect_unary};
use super::{Body, Builtins, Handler, Incoming, MethodInfo, Target, Wire};
use crate::BoxError;
use crate::metrics::EndpointMetrics;
use crate::transcode::{MethodTypes, method_types};
use refusals::text_response;
use rest::{RestRoute, rest_routes};

/// Where a method leads: a handler, the index of one of its methods, and its message types.
#[derive(Debug, Clone)]
struct MethodRoute {
    handler: usize,
    method: usize,
    /// The method's message types; none for a proto-less handler whose types have no
    /// protobuf description.
    types: Option<Arc<MethodTypes>>,
    /// The method's metrics, if the server keeps them.
    metrics: Option<Arc<EndpointMetrics>>,
}

/// The port's request router. Built once at start, shared by every connection.
pub(crate) struct Router {
    handlers: Arc<[Arc<dyn Handler>]>,
    /// `/pkg.Svc/Method` → route.
    routes: HashMap<&'static str, MethodRoute>,
    /// `Svc.Method` (go-micro's endpoint name) → route. go-micro's gRPC clients put their own
    /// service name where the package goes (`/helloworld.Helloworld/Call`), so gRPC paths fall
    /// back to this too. Only names that identify one method are kept.
    endpoints: HashMap<String, MethodRoute>,
    builtins: HashMap<&'static str, BuiltinService>,
    /// The google.api.http rules of the handlers' methods, most specific first.
    rest: Vec<RestRoute>,
    settings: Arc<CallSettings>,
    /// What every routed call goes through on its way to the handler.
    pipeline: CallPipeline,
    /// The service's readiness, for the HTTP health probes.
    probes: Arc<Probes>,
}

impl Router {
    pub(crate) fn new(
        handlers: Vec<Arc<dyn Handler>>,
        builtins: &Builtins,
        settings: CallSettings,
        probes: Arc<Probes>,
    ) -> Result<Router, Error> {
        let mut routes = HashMap::new();
        let mut endpoints: HashMap<String, Option<MethodRoute>> = HashMap::new();
        // In the order the handlers declare them, so equally specific rules keep that order.
        let mut declared = Vec::new();
        for (handler, service) in handlers.iter().enumerate() {
            let info = service.info();
            for (method, method_info) in info.methods.iter().enumerate() {
                let types = match info.file_descriptor_set.is_empty() {
                    true => None,
                    false => Some(method_types(info, method_info).map_err(Error::config)?),
                };
                let metrics = settings.metrics.as_ref().map(|metrics| {
                    let service = settings.service.clone();
                    Arc::new(EndpointMetrics::new(metrics, service, method_info.endpoint))
                });
                let route = MethodRoute {
                    handler,
                    method,
                    types,
                    metrics,
                };
                routes.insert(method_info.path, route.clone());
                declared.push(route.clone());
                // A second method with the same endpoint name makes it ambiguous: drop it.
                endpoints
                    .entry(method_info.endpoint.to_owned())
                    .and_modify(|existing| *existing = None)
                    .or_insert(Some(route));
            }
        }
        let handlers: Arc<[Arc<dyn Handler>]> = handlers.into();
        let pipeline = pipeline::build(handlers.clone(), settings.gatekeeper.clone());
        let rest = rest_routes(&declared, &settings.json);
        for rule in &rest {
            let endpoint = handlers[rule.route.handler].info().methods[rule.route.method].endpoint;
            rest::warn_if_shadowed(rule, endpoint);
        }
        Ok(Router {
            handlers,
            pipeline,
            rest,
            routes,
            endpoints: endpoints
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
            builtins: builtins.services.iter().cloned().collect(),
            settings: Arc::new(settings),
            probes,
        })
    }

    /// Serves one request from `peer`.
    pub(crate) async fn route<B>(
        &self,
        request: http::Request<B>,
        peer: Option<SocketAddr>,
    ) -> Result<http::Response<Body>, Infallible>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // Checked before the probe's future is made: calls are POSTs.
        if request.method() == Method::GET
            && let Some(response) = self.probe(request.method(), request.uri().path()).await
        {
            return Ok(response);
        }
        if request.version() < http::Version::HTTP_2 {
            let leftover = Leftover::default();
            let request = request.map(|body| leftover.track(Body::new(body)));
            let response = self.route_protocol(request, peer).await;
            leftover.drain().await;
            return Ok(response);
        }
        Ok(self.route_protocol(request, peer).await)
    }

    /// Answers `GET /metrics` and the health probes (on the service's port and on the probe
    /// port); `None` for every other request.
    pub(crate) async fn probe(&self, method: &Method, path: &str) -> Option<http::Response<Body>> {
        if method != Method::GET {
            return None;
        }
        if path == METRICS_PATH {
            return Some(self.metrics_page());
        }
        Some(self.probes.answer(Probe::of(path)?).await)
    }

    /// Serves one request on the probe port: a probe or the metrics, else 404.
    pub(crate) async fn probe_only(&self, method: &Method, path: &str) -> http::Response<Body> {
        match self.probe(method, path).await {
            Some(response) => response,
            None => text_response(
                StatusCode::NOT_FOUND,
                "this is the probe port: it serves GET /health, /health/live, /health/ready and \
                 /metrics; calls go to the service's port\n",
            ),
        }
    }

    /// Serves one request by the protocol its headers name.
    async fn route_protocol<B>(
        &self,
        request: http::Request<B>,
        peer: Option<SocketAddr>,
    ) -> http::Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if let Some((rest, variables)) = self.rest_route(&request) {
            return self
                .rest(rest, variables, request.map(Body::new), peer)
                .await;
        }
        if connect_unary::is_get(&request) {
            return self.connect_get(request.map(Body::new), peer).await;
        }
        match Protocol::detect(request.headers()) {
            Protocol::Grpc(codec) => self.grpc(request, peer, codec).await,
            Protocol::GrpcWeb(codec) => self.grpc_web(request.map(Body::new), peer, codec).await,
            Protocol::ConnectStream(codec) => {
                self.connect_stream(request.map(Body::new), peer, codec)
                    .await
            }
            Protocol::ConnectUnary(codec) => {
                self.connect_unary(request.map(Body::new), peer, codec)
                    .await
            }
            Protocol::Micro(codec) => self.micro(request.map(Body::new), peer, codec).await,
            Protocol::Unsupported(message) => self.no_rule(&request).unwrap_or_else(|| {
                text_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, &format!("{message}\n"))
            }),
        }
    }

    /// `GET /metrics`: the registry in Prometheus' text format, or 404 with metrics off.
    fn metrics_page(&self) -> http::Response<Body> {
        let Some(metrics) = &self.settings.metrics else {
            return text_response(
                StatusCode::NOT_FOUND,
                "metrics are off for this service (Service::metrics(false), --metrics false or \
                 MICRO_METRICS=false)\n",
            );
        };
        let mut response = http::Response::new(Body::new(http_body_util::Full::new(Bytes::from(
            metrics.encode(),
        ))));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        );
        response
    }

    fn find_path(&self, path: &str) -> Option<MethodRoute> {
        if let Some(route) = self.routes.get(path) {
            return Some(route.clone());
        }
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        let handler = service.rsplit('.').next()?;
        self.endpoints.get(&format!("{handler}.{method}")).cloned()
    }

    fn method(&self, route: &MethodRoute) -> &'static MethodInfo {
        &self.handlers[route.handler].info().methods[route.method]
    }

    /// Runs the routed call through the per-call pipeline to its handler: the response, or
    /// the status a layer of the pipeline refused the call with.
    async fn call(
        &self,
        route: &MethodRoute,
        request: http::Request<Body>,
        peer: Option<SocketAddr>,
        wire: Wire,
    ) -> CallResult {
        let meta = CallMeta::new(
            self.settings.clone(),
            self.method(route),
            route.types.clone(),
            peer,
            Instant::now(),
        );
        let target = Target {
            handler: route.handler,
            method: route.method,
            metrics: route.metrics.clone(),
        };
        let call = Incoming {
            request,
            meta,
            wire,
            target,
        };
        self.pipeline.clone().oneshot(call).await
    }
}

/// The service a gRPC path names (`/grpc.health.v1.Health/Check` → `grpc.health.v1.Health`).
fn path_service(path: &str) -> &str {
    let path = path.trim_start_matches('/');
    path.split('/').next().unwrap_or_default()
}

/// Where the port serves its metrics.
const METRICS_PATH: &str = "/metrics";

/// The `GET` paths the port answers before any google.api.http rule: metrics and probes.
const RESERVED_PATHS: [&str; 4] = [METRICS_PATH, "/health", "/health/live", "/health/ready"];
