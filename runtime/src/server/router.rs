//! Routes each request on the port: by protocol (content type and headers), then by method (the
//! gRPC path or go-micro's `Micro-Endpoint`) to a handler, or to a built-in service.

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
use super::protocol::{Protocol, connect, connect_unary, grpc_web, micro};
use super::{Body, Builtins, Framed, Handler, Incoming, MethodInfo, RpcKind, Target, Wire};
use crate::auth::Identity;
use crate::codec::{Format, FrameLimit};
use crate::metrics::EndpointMetrics;
use crate::transcode::{MethodTypes, method_types};
use crate::{BoxError, Code, Status};

/// Where a method leads: a handler, the index of one of its methods, and its message types.
#[derive(Debug, Clone)]
struct MethodRoute {
    handler: usize,
    method: usize,
    types: Arc<MethodTypes>,
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
    settings: Arc<CallSettings>,
    /// What every routed call goes through on its way to the handler.
    pipeline: CallPipeline,
}

impl Router {
    pub(crate) fn new(
        handlers: Vec<Arc<dyn Handler>>,
        builtins: &Builtins,
        settings: CallSettings,
    ) -> Result<Router, Error> {
        let mut routes = HashMap::new();
        let mut endpoints: HashMap<String, Option<MethodRoute>> = HashMap::new();
        for (handler, service) in handlers.iter().enumerate() {
            let info = service.info();
            for (method, method_info) in info.methods.iter().enumerate() {
                let types = method_types(info, method_info).map_err(Error::config)?;
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
                // A second method with the same endpoint name makes it ambiguous: drop it.
                endpoints
                    .entry(method_info.endpoint.to_owned())
                    .and_modify(|existing| *existing = None)
                    .or_insert(Some(route));
            }
        }
        let handlers: Arc<[Arc<dyn Handler>]> = handlers.into();
        let pipeline = pipeline::build(handlers.clone(), settings.gatekeeper.clone());
        Ok(Router {
            handlers,
            pipeline,
            routes,
            endpoints: endpoints
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
            builtins: builtins.services.iter().cloned().collect(),
            settings: Arc::new(settings),
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
        if request.method() == Method::GET && request.uri().path() == METRICS_PATH {
            return Ok(self.metrics_page());
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
            Protocol::Unsupported(message) => {
                text_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, &format!("{message}\n"))
            }
        }
    }

    /// gRPC over HTTP/2.
    async fn grpc<B>(
        &self,
        request: http::Request<B>,
        peer: Option<SocketAddr>,
        codec: Format,
    ) -> http::Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if request.version() != http::Version::HTTP_2 {
            return text_response(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "gRPC needs HTTP/2: connect with HTTP/2 (h2c, prior knowledge) on this port, or \
                 use gRPC-Web or Connect over HTTP/1.1\n",
            );
        }
        if request.method() != Method::POST {
            return text_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "gRPC calls must be HTTP POST requests\n",
            );
        }
        let limit = self.settings.max_message_size;
        let request = request.map(|body| Body::new(FrameLimit::new(body, limit)));
        self.grpc_framed(request, peer, codec, &GRPC).await
    }

    /// A gRPC-framed call: gRPC, or translated from gRPC-Web or Connect streaming.
    async fn grpc_framed(
        &self,
        request: http::Request<Body>,
        peer: Option<SocketAddr>,
        codec: Format,
        carrier: &Carrier,
    ) -> http::Response<Body> {
        let path = request.uri().path();
        if let Some(route) = self.find_path(path) {
            if !carrier.kinds.contains(&self.method(&route).kind) {
                return self.wrong_kind(&route, carrier.name).into_http();
            }
            let wire = Wire::Grpc(Framed {
                codec,
                undecodable: carrier.undecodable,
            });
            let mut response = self
                .call(&route, request, peer, wire)
                .await
                .unwrap_or_else(|status| status.into_http());
            if codec == Format::Json {
                let content_type = HeaderValue::from_static(codec.grpc_content_type());
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, content_type);
            }
            return response;
        }
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        if let Some(builtin) = self.builtins.get(service) {
            if let Some(gatekeeper) = self
                .settings
                .gatekeeper
                .as_ref()
                .filter(|g| g.checks_builtins())
            {
                let endpoint = builtin_endpoint(path);
                let identity = request.extensions().get::<Identity>();
                if let Err(status) = gatekeeper
                    .check(request.headers(), identity, &endpoint)
                    .await
                {
                    return refused(status, &endpoint);
                }
            }
            return builtin
                .clone()
                .oneshot(request)
                .await
                .unwrap_or_else(|never| match never {});
        }
        self.unknown_path(path).into_http()
    }

    /// gRPC-Web, translated to gRPC by tonic-web.
    async fn grpc_web(
        &self,
        mut request: http::Request<Body>,
        peer: Option<SocketAddr>,
        codec: Format,
    ) -> http::Response<Body> {
        grpc_web::before(&mut request, codec);
        let limit = self.settings.max_message_size;
        // Browsers send whole request bodies, so only unary and server streaming work there;
        // other clients stream requests too (bidi needs HTTP/2).
        let carrier = match request.version() {
            http::Version::HTTP_2 => &GRPC_WEB,
            _ => &GRPC_WEB_HTTP1,
        };
        let inner = tower::service_fn(|request: http::Request<Body>| async move {
            let codec = grpc_web::codec_after(&request);
            let request = request.map(|body| Body::new(FrameLimit::new(body, limit)));
            Ok::<_, Infallible>(self.grpc_framed(request, peer, codec, carrier).await)
        });
        let web = tower::Layer::layer(&tonic_web::GrpcWebLayer::new(), inner);
        let response = web
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        grpc_web::after(response, codec)
    }

    /// Connect streaming: envelopes over HTTP/2, or HTTP/1.1 for all but bidi streams.
    async fn connect_stream(
        &self,
        mut request: http::Request<Body>,
        peer: Option<SocketAddr>,
        codec: Format,
    ) -> http::Response<Body> {
        let carrier = match request.version() {
            http::Version::HTTP_2 => &CONNECT_STREAM,
            _ => &CONNECT_STREAM_HTTP1,
        };
        connect::stream_request(&mut request, codec);
        let limit = self.settings.max_message_size;
        let request = request.map(|body| Body::new(FrameLimit::new(body, limit)));
        let response = self.grpc_framed(request, peer, codec, carrier).await;
        connect::stream_response(response, codec)
    }

    /// Connect GET: a unary call of a side-effect-free method, its message in the query.
    async fn connect_get(
        &self,
        request: http::Request<Body>,
        peer: Option<SocketAddr>,
    ) -> http::Response<Body> {
        let allowed = self
            .find_path(request.uri().path())
            .is_some_and(|route| route.types.no_side_effects);
        if !allowed {
            let status = Status::unimplemented(
                "Connect GET calls only methods marked `option idempotency_level = \
                 NO_SIDE_EFFECTS`; POST the message instead",
            );
            let mut response = connect::unary_error(&status);
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            return response;
        }
        match connect_unary::from_get(request) {
            Ok((request, codec)) => self.connect_unary_call(request, peer, codec).await,
            Err(status) => connect::unary_error(&status),
        }
    }

    /// Connect unary: `POST /pkg.Svc/Method`, the body one message.
    async fn connect_unary(
        &self,
        request: http::Request<Body>,
        peer: Option<SocketAddr>,
        codec: Format,
    ) -> http::Response<Body> {
        if request.method() != Method::POST {
            // As connect-go answers: 405 with `Allow`, no Connect error body.
            let mut response = text_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "Connect unary calls are HTTP POST requests (or GET, for methods without side \
                 effects)\n",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST, GET"));
            return response;
        }
        self.connect_unary_call(request, peer, codec).await
    }

    /// Serves a Connect unary request that is a `POST` (or was made one from a GET).
    async fn connect_unary_call(
        &self,
        request: http::Request<Body>,
        peer: Option<SocketAddr>,
        codec: Format,
    ) -> http::Response<Body> {
        let Some(route) = self.find_path(request.uri().path()) else {
            let mut response = connect::unary_error(&self.unknown_path(request.uri().path()));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        };
        if self.method(&route).kind != RpcKind::Unary {
            return connect::unary_error(
                &self.wrong_kind(&route, "Connect unary (application/json)"),
            );
        }
        let request = match connect_unary::decompress(request, self.settings.max_message_size).await
        {
            Ok(request) => request,
            Err(status) => {
                let mut response = connect::unary_error(&status);
                response
                    .headers_mut()
                    .insert(http::header::ACCEPT_ENCODING, connect_unary::ACCEPTED);
                return response;
            }
        };
        match self
            .call(&route, request, peer, Wire::Unframed(connect::reply(codec)))
            .await
        {
            Ok(response) => connect::unary_response(response),
            Err(status) => connect::unary_error(&status),
        }
    }

    /// go-micro: `Micro-Endpoint: Svc.Method`, any path, the body one message.
    async fn micro(
        &self,
        request: http::Request<Body>,
        peer: Option<SocketAddr>,
        codec: Format,
    ) -> http::Response<Body> {
        let caller = micro::Caller::of(request.headers());
        let service = &self.settings.service;
        let endpoint = caller.endpoint();
        let route = match self.endpoints.get(endpoint) {
            Some(route) if self.method(route).kind == RpcKind::Unary => route.clone(),
            Some(route) => {
                let status = self.wrong_kind(route, "go-micro's HTTP protocol");
                return caller.error(&status, service);
            }
            None => {
                let status = Status::not_found(format!(
                    "unknown endpoint `{endpoint}`; this service has: {}",
                    self.endpoint_names().join(", ")
                ));
                return caller.error(&status, service);
            }
        };
        match self
            .call(&route, request, peer, Wire::Unframed(micro::reply(codec)))
            .await
        {
            Ok(response) => caller.response(response, service),
            Err(status) => caller.error(&status, service),
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

    /// `UNIMPLEMENTED`, naming what was asked for and what this server has.
    fn unknown_path(&self, path: &str) -> Status {
        let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            return Status::unimplemented(format!(
                "malformed path `{path}`: expected /package.Service/Method"
            ));
        };
        if let Some(handler) = self.handlers.iter().find(|h| h.info().name == service) {
            let methods: Vec<&str> = handler.info().methods.iter().map(|m| m.name).collect();
            return Status::unimplemented(format!(
                "unknown method `{method}` of service `{service}`; it has: {}",
                methods.join(", ")
            ));
        }
        let mut names: Vec<&str> = self.handlers.iter().map(|h| h.info().name).collect();
        names.extend(self.builtins.keys());
        names.sort_unstable();
        Status::unimplemented(format!(
            "unknown service `{service}`; this server has: {}",
            names.join(", ")
        ))
    }

    /// `UNIMPLEMENTED` for a method whose kind `protocol` cannot carry, saying what can.
    fn wrong_kind(&self, route: &MethodRoute, protocol: &str) -> Status {
        let method = self.method(route);
        let kind = match method.kind {
            RpcKind::Unary => {
                "a unary method; call it with gRPC, gRPC-Web, Connect unary \
                               (application/json) or a Micro-Endpoint header"
            }
            RpcKind::ServerStreaming => {
                "a server-streaming method; call it with gRPC, gRPC-Web \
                                         or Connect streaming (application/connect+json)"
            }
            RpcKind::ClientStreaming => {
                "a client-streaming method; call it with gRPC or Connect \
                                         streaming (application/connect+json)"
            }
            RpcKind::BidiStreaming => {
                "a bidirectional streaming method; call it with gRPC or \
                                       Connect streaming over HTTP/2"
            }
        };
        Status::unimplemented(format!(
            "{} cannot be called over {protocol}: it is {kind}",
            method.endpoint
        ))
    }

    fn endpoint_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = self
            .handlers
            .iter()
            .flat_map(|h| h.info().methods.iter().map(|m| m.endpoint))
            .collect();
        names.sort_unstable();
        names
    }
}

/// Where the port serves its metrics.
const METRICS_PATH: &str = "/metrics";

/// A protocol that carries gRPC-framed calls, and the kinds of call it can carry.
struct Carrier {
    name: &'static str,
    kinds: &'static [RpcKind],
    /// The code of a request message that does not decode (see [`Framed`]).
    undecodable: Code,
}

const ALL_KINDS: &[RpcKind] = &[
    RpcKind::Unary,
    RpcKind::ServerStreaming,
    RpcKind::ClientStreaming,
    RpcKind::BidiStreaming,
];
const GRPC: Carrier = Carrier {
    name: "gRPC",
    kinds: ALL_KINDS,
    undecodable: Code::Internal,
};
const GRPC_WEB: Carrier = Carrier {
    name: "gRPC-Web",
    kinds: ALL_KINDS,
    undecodable: Code::Internal,
};
const GRPC_WEB_HTTP1: Carrier = Carrier {
    name: "gRPC-Web over HTTP/1.1",
    kinds: &[
        RpcKind::Unary,
        RpcKind::ServerStreaming,
        RpcKind::ClientStreaming,
    ],
    undecodable: Code::Internal,
};
const CONNECT_STREAM: Carrier = Carrier {
    name: "Connect streaming",
    kinds: &[
        RpcKind::ServerStreaming,
        RpcKind::ClientStreaming,
        RpcKind::BidiStreaming,
    ],
    undecodable: Code::InvalidArgument,
};
const CONNECT_STREAM_HTTP1: Carrier = Carrier {
    name: "Connect streaming over HTTP/1.1",
    kinds: &[RpcKind::ServerStreaming, RpcKind::ClientStreaming],
    undecodable: Code::InvalidArgument,
};

/// The response to a call auth refused, logged as such.
fn refused(status: Status, endpoint: &str) -> http::Response<Body> {
    tracing::debug!(endpoint, code = ?status.code(), message = status.message(), "call refused");
    status.into_http()
}

/// A built-in method's endpoint as rules name it: `/grpc.health.v1.Health/Check` → `Health.Check`.
fn builtin_endpoint(path: &str) -> String {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    let handler = service.rsplit('.').next().unwrap_or(service);
    format!("{handler}.{method}")
}

/// A plain-text HTTP response, for clients that speak no protocol of this port.
fn text_response(status: StatusCode, message: &str) -> http::Response<Body> {
    let body = Body::new(http_body_util::Full::new(Bytes::copy_from_slice(
        message.as_bytes(),
    )));
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
