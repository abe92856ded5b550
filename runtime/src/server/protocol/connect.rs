//! The Connect protocol (connectrpc.com): unary calls as plain HTTP with Connect's error JSON,
//! and streams as gRPC-style envelopes that end with an end-of-stream message.
//!
//! Streams are served by translating them into gRPC calls: the request envelopes are gRPC
//! frames already, and the response's trailers become the end-of-stream message.

use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body::{Body as HttpBody, Frame};
use pin_project_lite::pin_project;
use prost::Message;
use serde_json::{Map, Value, json};

use crate::codec::Format;
use crate::errors::{code_name, http_status};
use crate::server::{Body, TrailerNames, UnframedReply};
use crate::{Code, Status};

/// Connect's error JSON for a status: `{"code","message","details"}`.
fn error_json(status: &Status) -> Value {
    let mut error = Map::new();
    error.insert("code".into(), json!(code_name(status.code())));
    if !status.message().is_empty() {
        error.insert("message".into(), json!(status.message()));
    }
    let details = details(status.details());
    if !details.is_empty() {
        error.insert("details".into(), Value::Array(details));
    }
    Value::Object(error)
}

/// `google.rpc.Status` details as Connect writes them: `{"type","value"}`, unpadded base64.
fn details(encoded: &[u8]) -> Vec<Value> {
    #[derive(Clone, PartialEq, Message)]
    struct RpcStatus {
        #[prost(message, repeated, tag = "3")]
        details: Vec<prost_types::Any>,
    }
    let Ok(status) = RpcStatus::decode(encoded) else {
        return Vec::new();
    };
    status
        .details
        .into_iter()
        .map(|any| {
            let type_name = any
                .type_url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let value = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&any.value);
            json!({ "type": type_name, "value": value })
        })
        .collect()
}

/// A unary error response: the mapped HTTP status and the error JSON.
pub(crate) fn unary_error(status: &Status) -> http::Response<Body> {
    let body = serde_json::to_vec(&error_json(status)).unwrap_or_default();
    let mut response = http::Response::new(Body::new(http_body_util::Full::new(Bytes::from(body))));
    *response.status_mut() = http_status(status.code());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// How a Connect unary reply is written.
pub(crate) fn reply(codec: Format) -> UnframedReply {
    let content_type = match codec {
        Format::Protobuf => "application/proto",
        Format::Json => "application/json",
    };
    UnframedReply {
        codec,
        content_type,
        newline: false,
    }
}

/// Turns a failed unary call's gRPC status into Connect's error, keeping the handler's
/// headers and trailers (`trailer-` prefixed); success passes through.
pub(crate) fn unary_response(mut response: http::Response<Body>) -> http::Response<Body> {
    let Some(status) = super::failure(&mut response) else {
        return response;
    };
    let mut error = unary_error(&status);
    let (parts, _) = response.into_parts();
    let trailers = parts
        .extensions
        .get::<TrailerNames>()
        .cloned()
        .unwrap_or_default();
    for (name, value) in &parts.headers {
        let name_text = name.as_str();
        if name_text.starts_with("grpc-") || *name == header::CONTENT_TYPE {
            continue;
        }
        let name = match trailers.0.contains(name) {
            true => match http::HeaderName::try_from(format!("trailer-{name_text}")) {
                Ok(name) => name,
                Err(_) => continue,
            },
            false => name.clone(),
        };
        error.headers_mut().append(name, value.clone());
    }
    error
}

/// Rewrites a Connect streaming request as the gRPC request it encodes.
pub(crate) fn stream_request(request: &mut http::Request<Body>, codec: Format) {
    let headers = request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(codec.grpc_content_type()),
    );
    for (connect, grpc) in [
        ("connect-content-encoding", "grpc-encoding"),
        ("connect-accept-encoding", "grpc-accept-encoding"),
    ] {
        if let Some(value) = headers.remove(connect) {
            headers.insert(grpc, value);
        }
    }
}

/// Rewrites the gRPC response to a Connect streaming response: always HTTP 200, the Connect
/// content type, and the trailers (or a trailers-only status) as the end-of-stream message.
pub(crate) fn stream_response(
    response: http::Response<Body>,
    codec: Format,
) -> http::Response<Body> {
    let (mut parts, body) = response.into_parts();
    let trailer_names = parts
        .extensions
        .remove::<TrailerNames>()
        .unwrap_or_default();
    let trailers_only = parts
        .headers
        .contains_key("grpc-status")
        .then(|| take_trailers(&mut parts.headers, &trailer_names));
    let content_type = match codec {
        Format::Protobuf => "application/connect+proto",
        Format::Json => "application/connect+json",
    };
    parts.status = StatusCode::OK;
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let body = EndStream {
        inner: body,
        trailers_only,
        done: false,
    };
    http::Response::from_parts(parts, Body::new(body))
}

/// Moves the status headers of a trailers-only response, and the handler's trailers among
/// them, out of the headers.
fn take_trailers(headers: &mut HeaderMap, handler: &TrailerNames) -> HeaderMap {
    let mut taken = HeaderMap::new();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        if let Some(value) = headers.remove(name) {
            taken.insert(name, value);
        }
    }
    for name in &handler.0 {
        let values: Vec<HeaderValue> = headers.get_all(name).iter().cloned().collect();
        headers.remove(name);
        for value in values {
            taken.append(name.clone(), value);
        }
    }
    taken
}

pin_project! {
    /// A gRPC response body whose trailers become Connect's end-of-stream envelope.
    struct EndStream<B> {
        #[pin]
        inner: B,
        trailers_only: Option<HeaderMap>,
        done: bool,
    }
}

impl<B> HttpBody for EndStream<B>
where
    B: HttpBody<Data = Bytes, Error = Status>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match futures_core::ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_trailers() {
                Ok(trailers) => {
                    *this.done = true;
                    Poll::Ready(Some(Ok(Frame::data(end_of_stream(&trailers)))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Some(Err(status)) => {
                *this.done = true;
                Poll::Ready(Some(Ok(Frame::data(end_of_stream(&status_headers(
                    &status,
                ))))))
            }
            None => {
                *this.done = true;
                let trailers = this.trailers_only.take().unwrap_or_default();
                Poll::Ready(Some(Ok(Frame::data(end_of_stream(&trailers)))))
            }
        }
    }
}

fn status_headers(status: &Status) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let _ = status.add_header(&mut headers);
    headers
}

/// The end-of-stream envelope: flag 0x02, then `{"error":…, "metadata":…}`.
fn end_of_stream(trailers: &HeaderMap) -> Bytes {
    let mut message = Map::new();
    if let Some(status) = Status::from_header_map(trailers).filter(|s| s.code() != Code::Ok) {
        message.insert("error".into(), error_json(&status));
    }
    let mut metadata = Map::new();
    for (name, value) in trailers {
        if name.as_str().starts_with("grpc-") {
            continue;
        }
        let values = metadata
            .entry(name.as_str())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(json!(String::from_utf8_lossy(value.as_bytes())));
        }
    }
    if !metadata.is_empty() {
        message.insert("metadata".into(), Value::Object(metadata));
    }
    let json = serde_json::to_vec(&Value::Object(message)).unwrap_or_default();
    let mut envelope = BytesMut::with_capacity(5 + json.len());
    envelope.put_u8(0x02);
    envelope.put_u32(json.len() as u32);
    envelope.put_slice(&json);
    envelope.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_connects_code_names_and_details() {
        let status: Status = crate::errors::Error::not_found("svc", "gone").into();
        let json = error_json(&status);
        assert_eq!(json["code"], "not_found");
        assert_eq!(json["details"][0]["type"], "errors.Error");
        assert!(
            json["details"][0]["value"]
                .as_str()
                .is_some_and(|v| !v.ends_with('='))
        );
        assert_eq!(
            error_json(&Status::cancelled("")),
            json!({"code": "canceled"})
        );
    }

    #[test]
    fn end_of_stream_carries_error_and_metadata() {
        let mut trailers = status_headers(&Status::aborted("stop"));
        trailers.insert("x-count", "3".parse().unwrap());
        let envelope = end_of_stream(&trailers);
        assert_eq!(envelope[0], 0x02);
        let json: Value = serde_json::from_slice(&envelope[5..]).unwrap();
        assert_eq!(
            json,
            json!({"error": {"code": "aborted", "message": "stop"}, "metadata": {"x-count": ["3"]}})
        );
        let ok = end_of_stream(&status_headers(&Status::ok("")));
        assert_eq!(&ok[5..], b"{}");
    }
}
