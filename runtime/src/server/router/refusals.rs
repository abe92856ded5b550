//! What the router answers when it cannot route a call: unknown methods, kinds a protocol
//! cannot carry, refusals, and plain text for clients of no protocol.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use super::{MethodRoute, Router};
use crate::Status;
use crate::server::{Body, RpcKind};

impl Router {
    /// `UNIMPLEMENTED`, naming what was asked for and what this server has.
    pub(super) fn unknown_path(&self, path: &str) -> Status {
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
    pub(super) fn wrong_kind(&self, route: &MethodRoute, protocol: &str) -> Status {
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

    pub(super) fn endpoint_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = self
            .handlers
            .iter()
            .flat_map(|h| h.info().methods.iter().map(|m| m.endpoint))
            .collect();
        names.sort_unstable();
        names
    }
}

/// A built-in method's endpoint as rules name it: `/grpc.health.v1.Health/Check` → `Health.Check`.
pub(super) fn builtin_endpoint(path: &str) -> String {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    let handler = service.rsplit('.').next().unwrap_or(service);
    format!("{handler}.{method}")
}

/// A plain-text HTTP response, for clients that speak no protocol of this port.
pub(super) fn text_response(status: StatusCode, message: &str) -> http::Response<Body> {
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
