//! The gateway's one handler: finds the method a request names, reads its JSON into the
//! request message, calls the service through the client stack (load balanced, retried on
//! another node) and answers with the reply as JSON. Server-streaming methods answer with
//! Server-Sent Events ([`super::sse`]); client and bidirectional streaming ones take a body of
//! JSON messages ([`super::streams`]); WebSocket upgrades reach every kind of method
//! ([`super::websocket`]).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, Method as HttpMethod, StatusCode, header};
use micro::dynamic::{self, DynamicMessage, MessageDescriptor};
use micro::server::RpcKind;
use serde_json::Value;

use super::error::GatewayError;
use super::route::Target;
use super::table::Matched;
use super::{Shared, sse, streams, undescribed, websocket};
use micro::http_rule;

/// Requests larger than this are refused with 413.
pub const MAX_BODY: usize = 4 << 20;

/// Answers one request.
pub(super) async fn handle(
    State(gateway): State<std::sync::Arc<Shared>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(socket) = websocket::target(&gateway, &parts).await {
        return websocket::upgrade(gateway, socket, parts).await;
    }
    answer(&gateway, parts, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn answer(gateway: &Shared, mut parts: Parts, body: Body) -> Result<Response, GatewayError> {
    // HEAD is answered as GET; hyper sends the headers only.
    if parts.method == HttpMethod::HEAD {
        parts.method = HttpMethod::GET;
    }
    let path = parts.uri.path();
    if let Some(matched) = gateway.routes.find(&parts.method, path) {
        return rest(gateway, matched, &parts, body).await;
    }
    if parts.method == HttpMethod::POST {
        if path == "/rpc" {
            return rpc(gateway, &parts.headers, body).await;
        }
        if let Some(target) = gateway.path_target(path).await {
            // A path like /v1/things/create fits both a rule and the path styles: a target
            // not called before is checked against a fresh rule table first.
            if !gateway.knows(&target)
                && let Some(matched) = gateway.routes.find_after_refresh(&parts.method, path).await
            {
                return rest(gateway, matched, &parts, body).await;
            }
            let body = read_body(&parts.headers, body).await?;
            return endpoint(gateway, &target, &parts.headers, &body).await;
        }
    }
    if parts.method == HttpMethod::GET
        && let Some(target) = gateway.path_target(path).await
    {
        if !gateway.knows(&target)
            && let Some(matched) = gateway.routes.find_after_refresh(&parts.method, path).await
        {
            return rest(gateway, matched, &parts, body).await;
        }
        return events(gateway, &target, &parts).await;
    }
    match gateway.routes.find_after_refresh(&parts.method, path).await {
        Some(matched) => rest(gateway, matched, &parts, body).await,
        None => Err(no_route(gateway, &parts.method, path)),
    }
}

/// `POST /<service>/<Service.Method>` and the other path styles.
async fn endpoint(
    gateway: &Shared,
    target: &Target,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, GatewayError> {
    let method = match gateway.method(&target.service, &target.endpoint).await {
        Ok(method) => method,
        Err(unfound) => return undescribed::call(gateway, target, headers, body, unfound).await,
    };
    if streams::takes_requests(&method) {
        let input = method.input();
        let json = &gateway.json;
        let body = Bytes::copy_from_slice(body);
        let decode = |message: &[u8]| Ok(dynamic::from_json(&input, message, json)?);
        let requests = streams::requests(body, decode).await?;
        let replies = gateway.replies();
        let service = &target.service;
        return streams::respond(gateway, service, &method, requests, headers, replies).await;
    }
    let body = match body.iter().all(u8::is_ascii_whitespace) {
        true => b"{}".as_slice(),
        false => body,
    };
    let request = dynamic::from_json(&method.input(), body, &gateway.json)?;
    if method.kind() == RpcKind::ServerStreaming {
        let replies = gateway.replies();
        return sse::respond(gateway, &target.service, &method, request, headers, replies).await;
    }
    let reply = gateway
        .call(&target.service, &method, request, headers)
        .await?;
    Ok(json_response(gateway.replies().text(&reply)?))
}

/// `GET /<service>/<Service.Method>?field=value` of a server-streaming method, as events
/// (what a browser's `EventSource` asks for).
async fn events(
    gateway: &Shared,
    target: &Target,
    parts: &Parts,
) -> Result<Response, GatewayError> {
    let method = gateway.method(&target.service, &target.endpoint).await?;
    if method.kind() != RpcKind::ServerStreaming {
        return Err(GatewayError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "GET reaches only server-streaming methods (as Server-Sent Events) and WebSocket \
                 upgrades; `{}` is not one: POST its request as JSON",
                method.endpoint()
            ),
        ));
    }
    let json = http_rule::from_query(&method.input(), parts.uri.query())?;
    let request = decode(gateway, &method.input(), &json)?;
    let replies = gateway.replies();
    sse::respond(
        gateway,
        &target.service,
        &method,
        request,
        &parts.headers,
        replies,
    )
    .await
}

/// The request message `json` describes.
pub(super) fn decode(
    gateway: &Shared,
    input: &MessageDescriptor,
    json: &Value,
) -> Result<DynamicMessage, GatewayError> {
    let json = serde_json::to_vec(json).unwrap_or_default();
    dynamic::from_json(input, &json, &gateway.json).map_err(GatewayError::from)
}

pub(super) fn json_response(json: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

/// go-micro v4's `POST /rpc` with `{"service","endpoint","request"}`.
async fn rpc(gateway: &Shared, headers: &HeaderMap, body: Body) -> Result<Response, GatewayError> {
    let body = read_body(headers, body).await?;
    let usage = "POST /rpc takes {\"service\":\"helloworld\",\"endpoint\":\"Helloworld.Greeting\",\
                 \"request\":{\"name\":\"alice\"}}";
    let Value::Object(mut fields) = http_rule::parse_body(&body)? else {
        return Err(GatewayError::bad_request(format!(
            "the body is not a JSON object; {usage}"
        )));
    };
    let mut text = |name: &str| match fields.remove(name) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        _ => Err(GatewayError::bad_request(format!(
            "`{name}` is missing or not a string; {usage}"
        ))),
    };
    let target = Target {
        service: text("service")?,
        endpoint: text("endpoint")?,
    };
    let request = fields
        .remove("request")
        .unwrap_or_else(|| Value::Object(Default::default()));
    let request = serde_json::to_vec(&request).unwrap_or_default();
    endpoint(gateway, &target, headers, &request).await
}

/// A google.api.http route.
async fn rest(
    gateway: &Shared,
    matched: Matched,
    parts: &Parts,
    body: Body,
) -> Result<Response, GatewayError> {
    let route = &matched.route;
    let body = read_body(&parts.headers, body).await?;
    let input = route.method.input();
    let (service, method) = (&route.service, &route.method);
    let replies = gateway.rule_replies(route);
    if streams::takes_requests(method) {
        let (binding, variables, query) = (&route.binding, &matched.variables, parts.uri.query());
        let decode = |message: &[u8]| {
            let json = http_rule::compose_frame(&input, binding, variables, query, Some(message))?;
            decode(gateway, &input, &json)
        };
        let requests = streams::requests(body, decode).await?;
        let headers = &parts.headers;
        return streams::respond(gateway, service, method, requests, headers, replies).await;
    }
    let json = http_rule::compose(
        &input,
        &route.binding,
        &matched.variables,
        parts.uri.query(),
        &body,
    )?;
    let request = decode(gateway, &input, &json)?;
    if method.kind() == RpcKind::ServerStreaming {
        return sse::respond(gateway, service, method, request, &parts.headers, replies).await;
    }
    let reply = gateway
        .call(service, method, request, &parts.headers)
        .await?;
    let text = replies.text(&reply)?;
    Ok(json_response(text))
}

/// The body, up to [`MAX_BODY`].
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, GatewayError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|err| match is_length_limit(&err) {
            true => too_large(),
            false => GatewayError::bad_request(format!("cannot read the request body: {err}")),
        })
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

fn too_large() -> GatewayError {
    GatewayError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is larger than the gateway's limit of {} MiB; send less, or call \
             the service over gRPC",
            MAX_BODY >> 20
        ),
    )
}

fn no_route(gateway: &Shared, method: &HttpMethod, path: &str) -> GatewayError {
    let routes = gateway.routes.describe();
    let routes = match routes.len() {
        0 => "none".to_owned(),
        n if n > 20 => format!("{} and {} more", routes[..20].join(", "), n - 20),
        _ => routes.join(", "),
    };
    GatewayError::not_found(format!(
        "no route for {method} {path}: POST JSON to /<service>/<Service.Method> (e.g. \
         /helloworld/Helloworld.Greeting), /api/<service>/<Service>/<Method>, or /rpc with \
         {{\"service\",\"endpoint\",\"request\"}}; google.api.http routes: {routes}"
    ))
}
