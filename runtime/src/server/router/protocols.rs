//! The entry of each protocol: what it can carry, and how its calls reach [`Router::call`].

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use tower::ServiceExt;

use super::refusals::{builtin_endpoint, text_response};
use super::{Router, path_service};
use crate::auth::Identity;
use crate::codec::{Format, FrameLimit};
use crate::server::protocol::{connect, connect_unary, grpc_web, micro};
use crate::server::{Body, Framed, RpcKind, Wire};
use crate::{BoxError, Code, Status};

impl Router {
    /// gRPC over HTTP/2.
    pub(super) async fn grpc<B>(
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
    pub(super) async fn grpc_framed(
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
        let service = path_service(path);
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
                    return status.into_http();
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
    pub(super) async fn grpc_web(
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
    pub(super) async fn connect_stream(
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
    pub(super) async fn connect_get(
        &self,
        request: http::Request<Body>,
        peer: Option<SocketAddr>,
    ) -> http::Response<Body> {
        let allowed = self.find_path(request.uri().path()).is_some_and(|route| {
            route
                .types
                .as_ref()
                .is_some_and(|types| types.no_side_effects)
        });
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
    pub(super) async fn connect_unary(
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
    pub(super) async fn connect_unary_call(
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
    pub(super) async fn micro(
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
}

/// A protocol that carries gRPC-framed calls, and the kinds of call it can carry.
pub(super) struct Carrier {
    name: &'static str,
    kinds: &'static [RpcKind],
    /// The code of a request message that does not decode (see [`Framed`]).
    undecodable: Code,
}

pub(super) const ALL_KINDS: &[RpcKind] = &[
    RpcKind::Unary,
    RpcKind::ServerStreaming,
    RpcKind::ClientStreaming,
    RpcKind::BidiStreaming,
];
pub(super) const GRPC: Carrier = Carrier {
    name: "gRPC",
    kinds: ALL_KINDS,
    undecodable: Code::Internal,
};
pub(super) const GRPC_WEB: Carrier = Carrier {
    name: "gRPC-Web",
    kinds: ALL_KINDS,
    undecodable: Code::Internal,
};
pub(super) const GRPC_WEB_HTTP1: Carrier = Carrier {
    name: "gRPC-Web over HTTP/1.1",
    kinds: &[
        RpcKind::Unary,
        RpcKind::ServerStreaming,
        RpcKind::ClientStreaming,
    ],
    undecodable: Code::Internal,
};
pub(super) const CONNECT_STREAM: Carrier = Carrier {
    name: "Connect streaming",
    kinds: &[
        RpcKind::ServerStreaming,
        RpcKind::ClientStreaming,
        RpcKind::BidiStreaming,
    ],
    undecodable: Code::InvalidArgument,
};
pub(super) const CONNECT_STREAM_HTTP1: Carrier = Carrier {
    name: "Connect streaming over HTTP/1.1",
    kinds: &[RpcKind::ServerStreaming, RpcKind::ClientStreaming],
    undecodable: Code::InvalidArgument,
};
