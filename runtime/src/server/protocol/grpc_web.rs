//! gRPC-Web, for browsers: tonic-web translates to gRPC and back. It knows the protobuf content
//! types only, so JSON calls (`+json`) are presented to it as protobuf and restored around it.

use http::{HeaderValue, header};

use crate::codec::Format;
use crate::server::Body;

/// Marks a gRPC-Web request whose messages are JSON, for the gRPC side of the translation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonMessages;

/// Prepares a gRPC-Web request for tonic-web: `+json` becomes `+proto` in the content type and
/// the accepted type, remembered as a mark.
pub(crate) fn before(request: &mut http::Request<Body>, codec: Format) {
    if codec != Format::Json {
        return;
    }
    for name in [header::CONTENT_TYPE, header::ACCEPT] {
        let as_proto = request.headers().get(&name).map(|value| {
            let text = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
            if text.starts_with("application/grpc-web-text") {
                "application/grpc-web-text+proto"
            } else {
                "application/grpc-web+proto"
            }
        });
        if let Some(as_proto) = as_proto {
            request
                .headers_mut()
                .insert(name, HeaderValue::from_static(as_proto));
        }
    }
    request.extensions_mut().insert(JsonMessages);
}

/// The codec of a request after tonic-web's translation.
pub(crate) fn codec_after(request: &http::Request<Body>) -> Format {
    if request.extensions().get::<JsonMessages>().is_some() {
        Format::Json
    } else {
        Format::Protobuf
    }
}

/// Restores `+json` in the content type of a JSON call's response, keeping the encoding
/// (binary or base64 text) tonic-web chose from the request's `Accept`.
pub(crate) fn after(mut response: http::Response<Body>, codec: Format) -> http::Response<Body> {
    if codec != Format::Json {
        return response;
    }
    let text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc-web-text"));
    let content_type = if text {
        "application/grpc-web-text+json"
    } else {
        "application/grpc-web+json"
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
