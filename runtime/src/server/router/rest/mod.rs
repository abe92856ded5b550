//! The google.api.http rules of the service's own methods, answered on its port:
//! `GET /v1/greet/alice` calls `Greeter.Greet` with `{"name":"alice"}`, with no gateway
//! between. The request is put together as JSON from the body, the query string and the
//! path's variables ([`http_rule::compose`]) and then served as a go-micro JSON call is (a
//! server stream as gRPC with JSON messages, its replies sent as Server-Sent Events), so it
//! goes through the same auth, wrappers, deadlines and metrics; errors are go-micro's error
//! JSON with the matching HTTP status.
//!
//! A rule is tried only for a request that names no method itself: gRPC, gRPC-Web and Connect
//! streaming calls, requests to a method's own path and `Micro-Endpoint` calls never reach it.
//! A client or bidirectional streaming method's rule takes a sequence of JSON messages as its
//! body (newline-delimited JSON, as grpc-gateway takes it), each sent on as it arrives; `micro
//! gateway` serves these rules over WebSockets too.

mod events;
mod requests;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, header};
use http_body_util::Full;
use serde_json::Value;

use super::{MethodRoute, RESERVED_PATHS, Router, path_service};
use crate::codec::Format;
use crate::codec::frame::{self, GRPC_ACCEPT_ENCODING, GRPC_ENCODING};
use crate::errors::Error as MicroError;
use crate::http_rule::{self, Binding, ResponseField};
use crate::rpc::RpcKind;
use crate::server::protocol::{MICRO_ENDPOINT_HEADERS, micro};
use crate::server::{Body, Framed, Wire, unary};
use crate::transcode::{JsonOptions, MethodTypes};
use crate::{Code, Status};
use events::Narrow;

/// A method bound to an HTTP method and path by its google.api.http rule.
pub(super) struct RestRoute {
    pub(super) binding: Binding,
    pub(super) route: MethodRoute,
    /// What makes a reply's JSON the rule's `response_body` field; `None` for the whole reply.
    narrow: Option<Narrow>,
}

/// The routes of `routes`' rules, most specific first; replies are written as `json` says.
pub(super) fn rest_routes(routes: &[MethodRoute], json: &JsonOptions) -> Vec<RestRoute> {
    let mut rest: Vec<RestRoute> = routes
        .iter()
        .flat_map(|route| {
            let types = route.types.as_ref();
            let bindings = types.map(|types| types.http.clone()).unwrap_or_default();
            bindings.into_iter().map(move |binding| RestRoute {
                narrow: types.and_then(|types| narrow(&binding, types, json)),
                binding,
                route: route.clone(),
            })
        })
        .collect();
    rest.sort_by_key(|rest| std::cmp::Reverse(rest.binding.template.specificity()));
    rest
}

/// Logs a rule that matches a path the port answers before any rule (the health probes and
/// `/metrics`): requests for that path never reach `endpoint`.
pub(super) fn warn_if_shadowed(rest: &RestRoute, endpoint: &str) {
    for path in shadowed_paths(&rest.binding) {
        tracing::warn!(
            endpoint,
            rule = rest.binding.template.as_str(),
            "a google.api.http rule matches `GET {path}`, which the service's port answers \
             itself (health probes, metrics): that request never reaches the rule's method; \
             give the rule another path"
        );
    }
}

/// The reserved paths `binding` matches, which the port answers before it.
fn shadowed_paths(binding: &Binding) -> impl Iterator<Item = &'static str> + '_ {
    let get = binding.method == http::Method::GET;
    RESERVED_PATHS
        .into_iter()
        .filter(move |path| get && binding.template.matches(path).is_some())
}

impl Router {
    /// The rule `request` matches, with the path's variables; `None` when the request names
    /// its method itself (a method's gRPC path, a `Micro-Endpoint` header) or no rule matches.
    pub(super) fn rest_route<B>(
        &self,
        request: &http::Request<B>,
    ) -> Option<(&RestRoute, Vec<(String, String)>)> {
        if self.rest.is_empty() {
            return None;
        }
        let path = request.uri().path();
        let headers = request.headers();
        if self.routes.contains_key(path)
            || self.builtins.contains_key(path_service(path))
            || is_framed(headers)
            || names_endpoint(headers)
        {
            return None;
        }
        // HEAD is answered as GET (hyper sends the headers alone).
        let method = match request.method() {
            &http::Method::HEAD => &http::Method::GET,
            method => method,
        };
        self.rest
            .iter()
            .filter(|rest| rest.binding.method == method)
            .find_map(|rest| Some((rest, rest.binding.template.matches(path)?)))
    }

    /// The answer to a request in no protocol of the port that a rule would take with another
    /// HTTP method (`405`, with `Allow`), or that has no content type at all, as REST requests
    /// often have not (`404` listing the rules); `None` when the service has no rules, or for a
    /// go-micro call or a request with a content type the port does not speak (415 says which).
    pub(super) fn no_rule<B>(&self, request: &http::Request<B>) -> Option<http::Response<Body>> {
        if self.rest.is_empty() || names_endpoint(request.headers()) {
            return None;
        }
        let path = request.uri().path();
        let caller = micro::Caller::of(request.headers());
        let service = &self.settings.service;
        let mut allowed: Vec<&str> = (self.rest.iter())
            .filter(|rest| rest.binding.template.matches(path).is_some())
            .map(|rest| rest.binding.method.as_str())
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        if !allowed.is_empty() {
            let allow = allowed.join(", ");
            let detail = format!("{} {path}: this path takes {allow}", request.method());
            let error = MicroError::new(service.as_ref(), detail, 405);
            let mut response = caller.error(&error.to_status(), service);
            if let Ok(allow) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            return Some(response);
        }
        if request.headers().contains_key(header::CONTENT_TYPE) {
            return None;
        }
        let status = Status::not_found(format!(
            "no route for {} {path}; this service's google.api.http routes: {}; its methods \
             are also called at their own paths with gRPC, Connect (POST /package.Service/Method, \
             Content-Type: application/json) or go-micro's Micro-Endpoint header",
            request.method(),
            self.describe_rules(),
        ));
        Some(caller.error(&status, service))
    }

    /// Every rule, as `GET /v1/greet/{name}`.
    fn describe_rules(&self) -> String {
        let rules: Vec<String> = (self.rest.iter())
            .map(|rest| format!("{} {}", rest.binding.method, rest.binding.template.as_str()))
            .collect();
        rules.join(", ")
    }

    /// Calls the method `rest` binds with the request the rule puts together: a unary method
    /// answers with its reply, a server-streaming one with events.
    pub(super) async fn rest(
        &self,
        rest: &RestRoute,
        variables: Vec<(String, String)>,
        request: http::Request<Body>,
        peer: Option<SocketAddr>,
    ) -> http::Response<Body> {
        let caller = micro::Caller::of(request.headers());
        let service = &self.settings.service;
        let kind = self.method(&rest.route).kind;
        if matches!(kind, RpcKind::ClientStreaming | RpcKind::BidiStreaming) {
            return self.rest_requests(rest, variables, request, peer).await;
        }
        let (mut parts, body) = request.into_parts();
        let composed = self
            .compose(rest, &variables, parts.uri.query(), body)
            .await;
        let composed = match (composed, kind) {
            (Ok(json), RpcKind::Unary) => Ok(json),
            (Ok(json), _) => frame::framed(&json, false),
            (Err(status), _) => Err(status),
        };
        let composed = match composed {
            Ok(composed) => composed,
            Err(status) => return caller.error(&status, service),
        };
        let (content_type, wire) = match kind {
            RpcKind::Unary => (
                "application/json",
                Wire::Unframed(micro::reply(Format::Json)),
            ),
            _ => ("application/grpc+json", Wire::Grpc(STREAMED)),
        };
        as_call(&mut parts.headers, content_type);
        let request = http::Request::from_parts(parts, Body::new(Full::new(composed)));
        let response = match self.call(&rest.route, request, peer, wire).await {
            Ok(response) => response,
            Err(status) => return caller.error(&status, service),
        };
        let narrow = rest.narrow.clone();
        if kind == RpcKind::ServerStreaming {
            return match events::respond(response, service.clone(), narrow).await {
                Ok(events) => events,
                Err(status) => caller.error(&status, service),
            };
        }
        let response = caller.response(response, service);
        match narrow {
            Some(narrow) if response.status().is_success() => only_field(response, narrow).await,
            _ => response,
        }
    }

    /// Calls the client or bidirectional streaming method `rest` binds with the JSON messages
    /// of the request body, sent on as they arrive: a client stream answers with its reply, a
    /// bidirectional one with events.
    async fn rest_requests(
        &self,
        rest: &RestRoute,
        variables: Vec<(String, String)>,
        request: http::Request<Body>,
        peer: Option<SocketAddr>,
    ) -> http::Response<Body> {
        let caller = micro::Caller::of(request.headers());
        let service = &self.settings.service;
        let (mut parts, body) = request.into_parts();
        let rule = requests::Rule {
            input: described(rest).input.clone(),
            binding: rest.binding.clone(),
            variables,
            query: parts.uri.query().map(str::to_owned),
        };
        let body = requests::frames(body, rule, self.settings.max_message_size);
        as_call(&mut parts.headers, "application/grpc+json");
        let request = http::Request::from_parts(parts, body);
        let wire = Wire::Grpc(STREAMED);
        let response = match self.call(&rest.route, request, peer, wire).await {
            Ok(response) => response,
            Err(status) => return caller.error(&status, service),
        };
        let narrow = rest.narrow.clone();
        let answer = match self.method(&rest.route).kind {
            RpcKind::ClientStreaming => events::single(response, narrow).await,
            _ => events::respond(response, service.clone(), narrow).await,
        };
        answer.unwrap_or_else(|status| caller.error(&status, service))
    }

    /// The request's JSON: the body (up to the message size limit) where the rule puts it,
    /// then the query, then the path's variables.
    async fn compose(
        &self,
        rest: &RestRoute,
        variables: &[(String, String)],
        query: Option<&str>,
        body: Body,
    ) -> Result<Bytes, Status> {
        let body = unary::read_whole(body, self.settings.max_message_size).await?;
        let input = &described(rest).input;
        let json = http_rule::compose(input, &rest.binding, variables, query, &body)?;
        Ok(Bytes::from(serde_json::to_vec(&json).unwrap_or_default()))
    }
}

/// How a streaming rule's call is framed: gRPC frames of JSON, served in process.
const STREAMED: Framed = Framed {
    codec: Format::Json,
    undecodable: Code::InvalidArgument,
};

/// Makes a rule's request headers those of the in-process call of `content_type`: the body is
/// put together here, uncompressed, and the reply is read here, so gRPC's compression headers
/// a client sent would be about neither.
fn as_call(headers: &mut http::HeaderMap, content_type: &'static str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    for name in [header::CONTENT_LENGTH, GRPC_ENCODING, GRPC_ACCEPT_ENCODING] {
        headers.remove(name);
    }
}

/// The types of a rule's method (rules are only read from descriptors).
fn described(rest: &RestRoute) -> &MethodTypes {
    rest.route
        .types
        .as_ref()
        .expect("rules come from descriptors")
}

/// What makes a reply's JSON `binding`'s `response_body` field; `None` for the whole reply.
fn narrow(binding: &Binding, types: &MethodTypes, json: &JsonOptions) -> Option<Narrow> {
    let name = binding.response_body.as_deref()?;
    let field = ResponseField::new(&types.output, name, json.proto_field_names)?;
    Some(Arc::new(move |json: &[u8]| {
        let reply = serde_json::from_slice::<Value>(json).unwrap_or_default();
        serde_json::to_vec(&field.take(reply)).unwrap_or_default()
    }))
}

/// A unary reply narrowed by `narrow`, ending with a newline as go-micro's JSON replies do.
async fn only_field(response: http::Response<Body>, narrow: Narrow) -> http::Response<Body> {
    let (parts, body) = response.into_parts();
    let whole = unary::read_whole(body, usize::MAX)
        .await
        .unwrap_or_default();
    let mut text = narrow(&whole);
    text.push(b'\n');
    http::Response::from_parts(parts, Body::new(Full::new(Bytes::from(text))))
}

/// Whether the request is a go-micro call: it names its endpoint in a header.
fn names_endpoint(headers: &http::HeaderMap) -> bool {
    (headers.keys()).any(|name| MICRO_ENDPOINT_HEADERS.contains(name))
}

/// Whether the request is a gRPC, gRPC-Web or Connect streaming call (`application/grpc…`,
/// `application/connect+…`), which a rule never answers.
fn is_framed(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            ["application/grpc", "application/connect+"]
                .iter()
                .any(|prefix| {
                    (value.get(..prefix.len()))
                        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_rule::Template;

    fn binding(method: http::Method, path: &str) -> Binding {
        Binding {
            method,
            template: Template::parse(path).unwrap(),
            body: None,
            response_body: None,
        }
    }

    fn shadowed(method: http::Method, path: &str) -> Vec<&'static str> {
        shadowed_paths(&binding(method, path)).collect()
    }

    #[test]
    fn get_rules_on_the_probe_and_metrics_paths_are_shadowed() {
        use http::Method;
        assert_eq!(
            shadowed(Method::GET, "/health/{check}"),
            ["/health/live", "/health/ready"]
        );
        assert_eq!(shadowed(Method::GET, "/{name}"), ["/metrics", "/health"]);
        assert_eq!(shadowed(Method::GET, "/metrics"), ["/metrics"]);
        assert!(shadowed(Method::GET, "/v1/health/{check}").is_empty());
        // Only GETs are answered before rules.
        assert!(shadowed(Method::POST, "/metrics").is_empty());
    }
}
