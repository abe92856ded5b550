//! The protocols one port speaks, told apart by content type and headers.

pub(super) mod connect;
pub(crate) mod connect_unary;
pub(crate) mod grpc_web;
pub(crate) mod micro;

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, header};

use crate::codec::Format;
use crate::server::Failure;

/// The status of a failed unframed call: the typed [`Failure`] the unary path leaves, or, from
/// a `Handler` written by hand, a trailers-only gRPC status; `None` for a success.
pub(super) fn failure(response: &mut http::Response<crate::server::Body>) -> Option<crate::Status> {
    if let Some(Failure(status)) = response.extensions_mut().remove::<Failure>() {
        return Some(status);
    }
    crate::codec::frame::failure_in(response.headers())
}

/// How a request wants to be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// gRPC over HTTP/2: `application/grpc[+proto|+json]`.
    Grpc(Format),
    /// gRPC-Web: `application/grpc-web[-text][+proto|+json]`.
    GrpcWeb(Format),
    /// Connect streaming: `application/connect+proto|json`.
    ConnectStream(Format),
    /// Connect unary: `POST /pkg.Svc/Method` with `application/json` or `application/proto`.
    ConnectUnary(Format),
    /// go-micro: a `Micro-Endpoint` (or `Micro-Method`) header; the path is ignored.
    Micro(Format),
    /// Nothing this port speaks; the text says what to send instead.
    Unsupported(String),
}

/// go-micro's request headers naming the endpoint, in the order go-micro reads them.
// A static, not a const: a const array of `HeaderName`s is built and dropped wherever it is used.
pub(crate) static MICRO_ENDPOINT_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("micro-endpoint"),
    HeaderName::from_static("x-micro-endpoint"),
    HeaderName::from_static("micro-method"),
    HeaderName::from_static("x-micro-method"),
];

impl Protocol {
    pub(crate) fn detect(headers: &HeaderMap) -> Protocol {
        let content_type = headers.get(header::CONTENT_TYPE).map(|value| {
            // Content types are almost always lowercase ASCII already; only allocate when not.
            match value.to_str() {
                Ok(text) if !text.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Borrowed(text),
                _ => Cow::Owned(String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase()),
            }
        });
        let essence = content_type
            .as_deref()
            .map(|value| value.split(';').next().unwrap_or("").trim());
        if headers
            .keys()
            .any(|name| MICRO_ENDPOINT_HEADERS.contains(name))
        {
            return micro_codec(essence).map_or_else(|| unsupported(essence), Protocol::Micro);
        }
        let Some(essence) = essence else {
            return unsupported(None);
        };
        let suffixed = |prefix: &str| {
            essence
                .strip_prefix(prefix)
                .map(|rest| rest.strip_prefix('+').unwrap_or(rest))
        };
        let framed = suffixed("application/grpc-web-text")
            .or_else(|| suffixed("application/grpc-web"))
            .map(|rest| (rest, Protocol::GrpcWeb as fn(Format) -> Protocol))
            .or_else(|| {
                suffixed("application/grpc")
                    .map(|rest| (rest, Protocol::Grpc as fn(Format) -> Protocol))
            })
            .or_else(|| {
                essence
                    .strip_prefix("application/connect+")
                    .map(|rest| (rest, Protocol::ConnectStream as fn(Format) -> Protocol))
            });
        if let Some((suffix, protocol)) = framed {
            return Format::from_suffix(suffix)
                .map_or_else(|| unsupported(Some(essence)), protocol);
        }
        match essence {
            "application/json" => Protocol::ConnectUnary(Format::Json),
            "application/proto" | "application/protobuf" | "application/x-protobuf" => {
                Protocol::ConnectUnary(Format::Protobuf)
            }
            _ => unsupported(Some(essence)),
        }
    }
}

/// go-micro's codecs by content type; none means protobuf, as in go-micro.
fn micro_codec(essence: Option<&str>) -> Option<Format> {
    match essence {
        None
        | Some("application/protobuf" | "application/proto" | "application/x-protobuf")
        | Some("application/octet-stream") => Some(Format::Protobuf),
        Some("application/json") => Some(Format::Json),
        Some(_) => None,
    }
}

const WHAT_TO_SEND: &str = "this port speaks gRPC (application/grpc[+json]), gRPC-Web \
    (application/grpc-web[+json]), Connect (application/json or application/proto to \
    /package.Service/Method, application/connect+json for streams) and go-micro's HTTP calls \
    (application/json with a Micro-Endpoint: Service.Method header)";

fn unsupported(essence: Option<&str>) -> Protocol {
    match essence {
        Some(content_type) => Protocol::Unsupported(format!(
            "unsupported content-type `{content_type}`; {WHAT_TO_SEND}"
        )),
        None => Protocol::Unsupported(format!("missing content-type; {WHAT_TO_SEND}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(pairs: &[(&str, &str)]) -> Protocol {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        Protocol::detect(&headers)
    }

    #[test]
    fn content_types_pick_protocol_and_codec() {
        let ct = |value| detect(&[("content-type", value)]);
        assert_eq!(ct("application/grpc"), Protocol::Grpc(Format::Protobuf));
        assert_eq!(
            ct("application/grpc+proto"),
            Protocol::Grpc(Format::Protobuf)
        );
        assert_eq!(ct("application/grpc+json"), Protocol::Grpc(Format::Json));
        assert_eq!(
            ct("application/grpc-web"),
            Protocol::GrpcWeb(Format::Protobuf)
        );
        assert_eq!(
            ct("application/grpc-web-text+proto"),
            Protocol::GrpcWeb(Format::Protobuf)
        );
        assert_eq!(
            ct("application/grpc-web+json"),
            Protocol::GrpcWeb(Format::Json)
        );
        assert_eq!(
            ct("application/connect+json"),
            Protocol::ConnectStream(Format::Json)
        );
        assert_eq!(
            ct("application/connect+proto"),
            Protocol::ConnectStream(Format::Protobuf)
        );
        assert_eq!(
            ct("application/json; charset=utf-8"),
            Protocol::ConnectUnary(Format::Json)
        );
        assert_eq!(ct("Application/JSON"), Protocol::ConnectUnary(Format::Json));
        assert_eq!(
            ct("application/proto"),
            Protocol::ConnectUnary(Format::Protobuf)
        );
        assert!(matches!(ct("text/plain"), Protocol::Unsupported(m) if m.contains("`text/plain`")));
        assert!(matches!(
            ct("application/grpc+xml"),
            Protocol::Unsupported(_)
        ));
        assert!(
            matches!(detect(&[]), Protocol::Unsupported(m) if m.starts_with("missing content-type"))
        );
    }

    #[test]
    fn micro_headers_win_over_the_path_and_default_to_protobuf() {
        let micro = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("micro-endpoint", "Helloworld.Greeting")];
            pairs.extend_from_slice(extra);
            detect(&pairs)
        };
        assert_eq!(
            micro(&[("content-type", "application/json")]),
            Protocol::Micro(Format::Json)
        );
        assert_eq!(micro(&[]), Protocol::Micro(Format::Protobuf));
        assert_eq!(
            micro(&[("content-type", "application/protobuf")]),
            Protocol::Micro(Format::Protobuf)
        );
        assert_eq!(
            detect(&[("x-micro-method", "A.B")]),
            Protocol::Micro(Format::Protobuf)
        );
        assert!(matches!(
            micro(&[("content-type", "application/x-www-form-urlencoded")]),
            Protocol::Unsupported(_)
        ));
    }
}
