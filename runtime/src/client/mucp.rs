//! go-micro's RPC protocol (mucp), spoken to nodes whose registry metadata says
//! `protocol=mucp` (go-micro's default server). The stack's unary gRPC request goes out as
//! go-micro's client sends it, `POST /` over HTTP/1.1 with `Micro-*` headers and the bare
//! message, and the answer (the reply message, or go-micro's error JSON in `Micro-Error`) comes
//! back as a gRPC response, so layers, retries and generated clients see one protocol.
//! Streaming methods are refused with a status that says what to do instead.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::CallTarget;
use super::failure::Failure;
use crate::codec::{Format, Whole, frame};
use crate::registry::Node;
use crate::rpc::{Body, RpcKind};
use crate::{Status, deadline};

/// How long an idle HTTP/1.1 connection is kept, as go-micro's pool TTL.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest reply accepted.
const MAX_REPLY: usize = 4 * 1024 * 1024;

/// go-micro's error header: the error JSON, the body then empty.
const MICRO_ERROR: HeaderName = HeaderName::from_static("micro-error");

/// Whether `node` asks to be called over mucp (go-micro's rpc server registers
/// `protocol=mucp`; micro-rs and go-micro's gRPC server register `grpc`).
pub(crate) fn speaks_mucp(node: &Node) -> bool {
    node.metadata.get("protocol").map(String::as_str) == Some("mucp")
}

/// A go-micro node's reply to a mucp call, read as a unary call reads its reply: the message,
/// or the call's status (for tests and the fuzz target; calls read `send`'s replies this way).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) async fn read_reply(parts: http::response::Parts, body: Bytes) -> Result<Bytes, Status> {
    super::unary::decode(to_grpc(parts, body), None, MAX_REPLY, Ok).await
}

/// Sends calls to mucp nodes over pooled HTTP/1.1 keep-alive connections. Clones share them.
#[derive(Clone, Debug)]
pub(crate) struct Mucp {
    http: HttpClient<HttpConnector, Full<Bytes>>,
}

impl Mucp {
    /// Calls whose connections may take `connect_timeout` to open, as gRPC ones.
    pub(crate) fn new(connect_timeout: Duration) -> Mucp {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let http = HttpClient::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(connector);
        Mucp { http }
    }

    /// Sends the unary gRPC `request` to the mucp node at `address`; its answer as a gRPC
    /// response.
    pub(crate) async fn send(
        &self,
        address: &str,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, Failure> {
        super::attempt::Peer::record(&request, address);
        let request = to_mucp(address, request).await.map_err(Failure::early)?;
        let response = self.http.request(request).await.map_err(|err| {
            let status = Status::unavailable(format!(
                "cannot call the go-micro node at {address} over mucp: {err}"
            ));
            match err.is_connect() {
                // Nothing was sent: another node may take the call.
                true => Failure::broken(status),
                false => Failure::answered(Status::unknown(status.message().to_owned())),
            }
        })?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, MAX_REPLY)
            .collect()
            .await
            .map_err(|err| Failure::answered(Status::unknown(format!("mucp reply: {err}"))))?
            .to_bytes();
        Ok(to_grpc(parts, body))
    }
}

/// The gRPC request as go-micro's client would send it.
async fn to_mucp(
    address: &str,
    request: http::Request<Body>,
) -> Result<http::Request<Full<Bytes>>, Status> {
    let target = request
        .extensions()
        .get::<CallTarget>()
        .cloned()
        .ok_or_else(|| Status::internal("the request names no method; keep its extensions"))?;
    let endpoint = target.method.endpoint;
    if target.method.kind != RpcKind::Unary {
        return Err(Status::unimplemented(format!(
            "{endpoint} streams, and micro-rs speaks go-micro's RPC protocol (mucp) for unary \
             calls only; serve `{}` with go-micro's gRPC server (--server grpc)",
            target.service
        )));
    }
    let (parts, body) = request.into_parts();
    // The message codec rides in the extensions (the connection sets the gRPC content type).
    let content_type = match parts.extensions.get::<Format>() {
        Some(Format::Json) => "application/json",
        _ => "application/protobuf",
    };
    if parts.headers.contains_key("grpc-encoding") {
        return Err(Status::unimplemented(
            "go-micro's RPC protocol has no compression; call without gzip",
        ));
    }
    let timeout = deadline::from_headers(&parts.headers)?;
    let (data, _) = Whole::read(body).await?.into_parts();
    let message = frame::single(data.unwrap_or_default(), "the request")?.unwrap_or_default();

    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if !is_grpc_only(name) {
            headers.append(name, value.clone());
        }
    }
    let value = |text: &str| HeaderValue::from_str(text).map_err(|_| invalid_name(text));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    headers.insert("micro-id", value(&uuid::Uuid::new_v4().to_string())?);
    headers.insert("micro-service", value(&target.service)?);
    headers.insert("micro-endpoint", HeaderValue::from_static(endpoint));
    headers.insert("micro-method", HeaderValue::from_static(endpoint));
    if let Some(timeout) = timeout {
        headers.insert("timeout", HeaderValue::from(timeout.as_nanos() as u64));
    }
    let mut mucp = http::Request::new(Full::new(message));
    *mucp.method_mut() = http::Method::POST;
    *mucp.uri_mut() = format!("http://{address}/")
        .parse()
        .map_err(|_| Status::internal(format!("`{address}` is not a node address")))?;
    *mucp.headers_mut() = headers;
    Ok(mucp)
}

fn invalid_name(text: &str) -> Status {
    Status::invalid_argument(format!("`{text}` cannot be sent in a header"))
}

/// Headers that belong to gRPC framing, not to the call's metadata.
fn is_grpc_only(name: &HeaderName) -> bool {
    let name = name.as_str();
    name == "te"
        || name == "content-type"
        || name == "content-length"
        || name == "host"
        || name.starts_with("grpc-")
}

/// go-micro's answer as a gRPC response: an error in `Micro-Error` (or a failed HTTP status)
/// becomes its status, keeping the go-micro error in the details; a reply becomes one frame.
pub(crate) fn to_grpc(parts: http::response::Parts, body: Bytes) -> http::Response<Body> {
    // go-micro writes the error JSON as Go marshals it: UTF-8, not only ASCII.
    let error = parts
        .headers
        .get(MICRO_ERROR)
        .map(|value| String::from_utf8_lossy(value.as_bytes()))
        .filter(|text| !text.is_empty());
    let failed = match error {
        Some(text) => Some(crate::errors::Error::parse(&text)),
        None if !parts.status.is_success() => {
            Some(crate::errors::Error::parse(&String::from_utf8_lossy(&body))).map(|mut error| {
                if error.code == 0 {
                    error.code = i32::from(parts.status.as_u16());
                }
                error
            })
        }
        None => None,
    };
    if let Some(error) = failed {
        let mut response = error.to_status().into_http::<Body>();
        copy_metadata(&parts.headers, response.headers_mut());
        return response;
    }
    let grpc_json = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    let mut framed = BytesMut::with_capacity(frame::PREFIX_LEN + body.len());
    framed.put_u8(0);
    framed.put_u32(body.len() as u32);
    framed.extend_from_slice(&body);
    let mut trailers = HeaderMap::new();
    trailers.insert(frame::GRPC_STATUS, HeaderValue::from_static("0"));
    let mut response = http::Response::new(Body::new(Whole::new(framed.freeze(), trailers)));
    copy_metadata(&parts.headers, response.headers_mut());
    let content_type = match grpc_json {
        true => "application/grpc+json",
        false => "application/grpc",
    };
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    response
}

/// The reply's headers that are call metadata (go-micro echoes the request's `Micro-*`). Its
/// `grpc-*` headers are not: they would be read as the gRPC response's status or encoding.
fn copy_metadata(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        let skip = is_grpc_only(name)
            || matches!(
                name.as_str(),
                "connection" | "keep-alive" | "transfer-encoding" | "date" | "micro-error"
            );
        if !skip && !to.contains_key(name) {
            to.append(name, value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A go-micro reply's head with `headers`.
    fn parts(headers: &[(&str, &str)]) -> http::response::Parts {
        let mut response = http::Response::new(());
        for (name, value) in headers {
            response.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        response.into_parts().0
    }

    fn reply(headers: &[(&str, &str)], body: &'static [u8]) -> http::Response<Body> {
        to_grpc(parts(headers), Bytes::from_static(body))
    }

    #[tokio::test]
    async fn a_reply_becomes_one_grpc_frame_with_an_ok_status() {
        let response = reply(&[("content-type", "application/protobuf")], b"\x0a\x01a");
        let collected = response.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned().unwrap();
        assert_eq!(trailers.get("grpc-status").unwrap(), "0");
        assert_eq!(collected.to_bytes().as_ref(), b"\0\0\0\0\x03\x0a\x01a");
    }

    #[test]
    fn a_micro_error_keeps_its_id_code_and_detail() {
        let json = r#"{"id":"helloworld","code":409,"detail":"taken","status":"Conflict"}"#;
        let response = reply(&[("micro-error", json), ("micro-id", "7")], b"");
        assert_eq!(response.headers().get("micro-id").unwrap(), "7");
        let status = frame::status_in(response.headers()).unwrap();
        assert_eq!(status.code(), crate::Code::AlreadyExists);
        let error = crate::errors::Error::from_status(&status, "x");
        assert_eq!(
            (error.id.as_str(), error.code, error.detail.as_str()),
            ("helloworld", 409, "taken")
        );
    }

    async fn read(headers: &[(&str, &str)], body: &'static [u8]) -> Result<Bytes, Status> {
        read_reply(parts(headers), Bytes::from_static(body)).await
    }

    /// Found by the `mucp` fuzz target: a go-micro reply's own `grpc-*` headers were copied
    /// into the gRPC response and read as its status (or its encoding).
    #[tokio::test]
    async fn grpc_headers_of_a_go_micro_reply_are_not_read_as_its_status() {
        let headers = [
            ("grpc-status", "5"),
            ("grpc-encoding", "gzip"),
            ("micro-id", "1"),
        ];
        let message = read(&headers, br#"{"msg":"hi"}"#).await.unwrap();
        assert_eq!(message.as_ref(), br#"{"msg":"hi"}"#);
    }

    /// Found by the `mucp` fuzz target: Go writes the error JSON in UTF-8, and an error whose
    /// text was not ASCII was ignored, so the call read an empty reply as a success.
    #[tokio::test]
    async fn a_micro_error_in_utf8_is_the_calls_error() {
        let json = r#"{"id":"menu","code":404,"detail":"no crème brûlée","status":"Not Found"}"#;
        let status = read(&[("micro-error", json)], b"").await.unwrap_err();
        assert_eq!(status.code(), crate::Code::NotFound);
        let error = crate::errors::Error::from_status(&status, "x");
        assert_eq!(error.detail, "no crème brûlée");
    }
}
