//! Routes each request on the port: gRPC by path to a handler method or a built-in service;
//! anything else gets an answer that says what this port speaks.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode, header};
use tokio::time::Instant;
use tower::ServiceExt;

use super::builtin::BuiltinService;
use super::call::{CallMeta, CallSettings};
use super::{Body, Builtins, Handler, Incoming};
use crate::Status;
use crate::codec::FrameLimit;

/// Where a gRPC path leads: a handler and the index of one of its methods.
#[derive(Debug, Clone, Copy)]
struct Route {
    handler: usize,
    method: usize,
}

/// The port's request router. Built once at start, shared by every connection.
pub(crate) struct Router {
    handlers: Vec<Arc<dyn Handler>>,
    /// `/pkg.Svc/Method` → route.
    routes: HashMap<&'static str, Route>,
    /// `Svc/Method` → route, for go-micro clients that put their own service name where the
    /// package goes (`/helloworld.Helloworld/Call` and `/x.Helloworld/Call` alike). Only names
    /// that identify one method are kept.
    by_handler: HashMap<String, Route>,
    builtins: HashMap<&'static str, BuiltinService>,
    settings: Arc<CallSettings>,
}

impl Router {
    pub(crate) fn new(
        handlers: Vec<Arc<dyn Handler>>,
        builtins: &Builtins,
        settings: CallSettings,
    ) -> Router {
        let mut routes = HashMap::new();
        let mut by_handler: HashMap<String, Option<Route>> = HashMap::new();
        for (handler, service) in handlers.iter().enumerate() {
            let info = service.info();
            for (method, method_info) in info.methods.iter().enumerate() {
                let route = Route { handler, method };
                routes.insert(method_info.path, route);
                let short = format!("{}/{}", info.handler, method_info.name);
                // A second method with the same short name makes it ambiguous: drop it.
                by_handler
                    .entry(short)
                    .and_modify(|existing| *existing = None)
                    .or_insert(Some(route));
            }
        }
        Router {
            handlers,
            routes,
            by_handler: by_handler
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
            builtins: builtins.services.iter().cloned().collect(),
            settings: Arc::new(settings),
        }
    }

    /// Serves one request from `peer`.
    pub(crate) async fn route<B>(
        &self,
        request: http::Request<B>,
        peer: Option<SocketAddr>,
    ) -> Result<http::Response<Body>, Infallible>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<crate::BoxError>,
    {
        if !is_grpc(request.headers()) {
            return Ok(not_grpc(&request));
        }
        if request.version() != http::Version::HTTP_2 {
            return Ok(plain(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "gRPC needs HTTP/2: connect with HTTP/2 (h2c, prior knowledge) on this port\n",
            ));
        }
        if request.method() != Method::POST {
            return Ok(plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "gRPC calls must be HTTP POST requests\n",
            ));
        }
        let path = request.uri().path();
        if let Some(route) = self.find(path) {
            return Ok(self.call(route, request, peer).await);
        }
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        if let Some(builtin) = self.builtins.get(service) {
            return builtin.clone().oneshot(request.map(Body::new)).await;
        }
        Ok(self.unknown(path).into_http())
    }

    fn find(&self, path: &str) -> Option<Route> {
        if let Some(route) = self.routes.get(path) {
            return Some(*route);
        }
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        let handler = service.rsplit('.').next()?;
        self.by_handler.get(&format!("{handler}/{method}")).copied()
    }

    async fn call<B>(
        &self,
        route: Route,
        request: http::Request<B>,
        peer: Option<SocketAddr>,
    ) -> http::Response<Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<crate::BoxError>,
    {
        let started = Instant::now();
        let handler = &self.handlers[route.handler];
        let method = &handler.info().methods[route.method];
        let timeout = match crate::deadline::from_headers(request.headers()) {
            Ok(timeout) => timeout,
            Err(status) => return status.into_http(),
        };
        let span = tracing::info_span!(
            "rpc",
            service = %self.settings.service,
            endpoint = method.endpoint,
            peer = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_us = tracing::field::Empty,
        );
        if let Some(peer) = peer {
            span.record("peer", tracing::field::display(peer));
        }
        let meta = CallMeta {
            settings: self.settings.clone(),
            method,
            peer,
            deadline: timeout.map(|timeout| started + timeout),
            started,
            span,
        };
        let limit = self.settings.max_message_size;
        let request = request.map(|body| Body::new(FrameLimit::new(body, limit)));
        handler.call(route.method, Incoming { request, meta }).await
    }

    /// `UNIMPLEMENTED`, naming what was asked for and what this server has.
    fn unknown(&self, path: &str) -> Status {
        let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            return Status::unimplemented(format!(
                "malformed gRPC path `{path}`: expected /package.Service/Method"
            ));
        };
        if let Some(handler) = self.handlers.iter().find(|h| h.info().name == service) {
            let methods: Vec<&str> = handler.info().methods.iter().map(|m| m.name).collect();
            return Status::unimplemented(format!(
                "unknown method `{method}` of service `{service}`; it has: {}",
                methods.join(", ")
            ));
        }
        Status::unimplemented(format!(
            "unknown service `{service}`; this server has: {}",
            self.service_names().join(", ")
        ))
    }

    fn service_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = self.handlers.iter().map(|h| h.info().name).collect();
        names.extend(self.builtins.keys());
        names.sort_unstable();
        names
    }
}

fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value == "application/grpc"
                || value.starts_with("application/grpc+")
                || value.starts_with("application/grpc;")
        })
}

/// The answer to anything that is not gRPC: say what this port speaks.
fn not_grpc<B>(request: &http::Request<B>) -> http::Response<Body> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let message = match content_type {
        Some(content_type) => format!(
            "unsupported content-type `{content_type}`: this port serves gRPC; send \
             `content-type: application/grpc` over HTTP/2\n"
        ),
        None => "missing content-type: this port serves gRPC; send `content-type: \
                 application/grpc` over HTTP/2\n"
            .to_owned(),
    };
    plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, &message)
}

fn plain(status: StatusCode, message: &str) -> http::Response<Body> {
    let mut response = http::Response::new(Body::new(http_body_util::Full::new(
        bytes::Bytes::copy_from_slice(message.as_bytes()),
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
