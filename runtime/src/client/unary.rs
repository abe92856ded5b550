//! Unary calls, the client's one path for them whatever the format and compression, without
//! tonic's streaming codec ([`crate::codec::frame`]): the request is encoded into one buffer
//! (for protobuf without gzip, straight into one of its exact size), and the reply, read whole
//! (the retry layer reads it whole anyway), is checked and decoded in place. The status rules are tonic's
//! (and gRPC's): a `grpc-status` in the headers ends the call, otherwise the trailers' does,
//! else the HTTP status is mapped.

use bytes::Bytes;
use http_body_util::Full;
use prost_reflect::MessageDescriptor;

use super::ResponseMetadata;
use crate::codec::frame::{GRPC_ENCODING, GZIP};
use crate::codec::{Codable, Format, Whole, frame};
use crate::rpc::Body;
use crate::transcode::JsonOptions;
use crate::{Code, Status};

/// `message` as the body of a unary request: one gRPC frame in a format (given the message's
/// descriptor where it needs it, and the JSON options), gzipped if `gzip`. Fails if the message
/// encodes to more than `limit` bytes.
pub(super) fn encode<M: Codable>(
    message: &M,
    (format, descriptor, json): (Format, Option<&MessageDescriptor>, &JsonOptions),
    gzip: bool,
    limit: usize,
) -> Result<Body, Status> {
    let too_long = |len| too_big(len, limit);
    let frame = frame::message_frame(message, format, descriptor, json, gzip, limit, too_long)?;
    Ok(Body::new(Full::new(frame)))
}

fn too_big(len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "the request of {len} bytes exceeds the client's limit of {limit} bytes; send a smaller \
         message or raise ClientBuilder::max_message_size"
    ))
}

/// The one message of a unary reply, decoded by `decode`, or the call's error status. The
/// reply's headers and trailers go to `capture`, if given; a gzipped reply may inflate to
/// `limit` bytes.
pub(super) async fn decode<T>(
    response: http::Response<Body>,
    capture: Option<&ResponseMetadata>,
    limit: usize,
    decode: impl FnOnce(Bytes) -> Result<T, Status>,
) -> Result<T, Status> {
    let (parts, body) = response.into_parts();
    if let Some(status) = frame::status_in(&parts.headers) {
        return trailers_only(parts.headers, status, body, capture).await;
    }
    let gzip = parts.headers.get(GRPC_ENCODING) == Some(&GZIP);
    if let Some(capture) = capture {
        capture.set_headers(parts.headers);
    }
    let whole = Whole::read(body).await?;
    let (data, trailers) = whole.into_parts();
    if let (Some(capture), Some(trailers)) = (capture, &trailers) {
        capture.set_trailers(trailers.clone());
    }
    final_status(trailers.as_ref(), parts.status)?;
    let data = data.unwrap_or_default();
    if frame::holds_more_than_one(&data) {
        return Err(extra_message());
    }
    let message = match gzip {
        true => frame::single_gzip(data, "the reply", limit)?,
        false => frame::single(data, "the reply")?,
    };
    decode(message.ok_or_else(missing_message)?)
}

/// A reply whose headers hold a status: trailers-only, the status is all there is, unless a
/// body follows (then the headers' status does not count: gRPC's rule).
async fn trailers_only<T>(
    headers: http::HeaderMap,
    status: Status,
    body: Body,
    capture: Option<&ResponseMetadata>,
) -> Result<T, Status> {
    let (data, trailers) = Whole::read(body).await?.into_parts();
    if let Some(trailers) = trailers.filter(|trailers| trailers.contains_key(frame::GRPC_STATUS)) {
        if let Some(capture) = capture {
            capture.set_headers(headers);
            capture.set_trailers(trailers.clone());
        }
        final_status(Some(&trailers), http::StatusCode::OK)?;
        return Err(missing_message());
    }
    if data.is_some_and(|data| !data.is_empty()) {
        return Err(Status::internal(
            "the reply carries a status in its headers and a body after them; a trailers-only \
             reply has no body",
        ));
    }
    if let Some(capture) = capture {
        capture.set_trailers(headers);
    }
    Err(match status.code() {
        Code::Ok => missing_message(),
        _ => status,
    })
}

/// A reply message of any [`Codable`] type, in `format`; a reply that does not decode is
/// `INTERNAL`, as in grpc-go.
pub(super) fn decode_reply<T: Codable>(
    message: Bytes,
    format: Format,
    descriptor: Option<&MessageDescriptor>,
    json: &JsonOptions,
) -> Result<T, Status> {
    T::decode_from(message, format, descriptor, json).map_err(|status| match status.code() {
        Code::InvalidArgument => {
            Status::internal(format!("cannot decode the reply: {}", status.message()))
        }
        _ => status,
    })
}

/// The status the trailers give, else one inferred from the HTTP status (gRPC's mapping).
fn final_status(trailers: Option<&http::HeaderMap>, http: http::StatusCode) -> Result<(), Status> {
    let code = trailers.and_then(|trailers| trailers.get(&frame::GRPC_STATUS));
    if code.is_some_and(|code| code.as_bytes() == b"0") {
        // Checked before parsing, which copies the trailers: nearly every reply is OK.
        return Ok(());
    }
    if let Some(status) = trailers.and_then(frame::status_in) {
        return match status.code() {
            Code::Ok => Ok(()),
            _ => Err(status),
        };
    }
    let code = match http {
        http::StatusCode::BAD_REQUEST => Code::Internal,
        http::StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        http::StatusCode::FORBIDDEN => Code::PermissionDenied,
        http::StatusCode::NOT_FOUND => Code::Unimplemented,
        http::StatusCode::TOO_MANY_REQUESTS
        | http::StatusCode::BAD_GATEWAY
        | http::StatusCode::SERVICE_UNAVAILABLE
        | http::StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    };
    Err(Status::new(
        code,
        format!(
            "the reply ended without a grpc-status (HTTP status {}); the server or a proxy \
             cut it off or does not speak gRPC",
            http.as_u16()
        ),
    ))
}

/// A reply of no message: the server serves the method as another kind of call (gRPC's
/// cardinality violation, UNIMPLEMENTED as grpc-go and connect-go report it).
pub(super) fn missing_message() -> Status {
    Status::unimplemented("the server answered OK without a reply message")
}

/// A reply of several messages to a call that expects one.
pub(super) fn extra_message() -> Status {
    Status::unimplemented("the reply holds more than one message; the call expects one")
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    const PROTOBUF: (Format, Option<&MessageDescriptor>, &JsonOptions) =
        (Format::Protobuf, None, &JsonOptions::DEFAULT);
    use http_body_util::BodyExt;

    fn reply(
        frames: &[u8],
        trailers: Option<(&'static str, &'static str)>,
    ) -> http::Response<Body> {
        let mut map = http::HeaderMap::new();
        if let Some((key, value)) = trailers {
            map.insert(key, value.parse().unwrap());
        }
        let body = Full::new(Bytes::copy_from_slice(frames))
            .map_err(|never| match never {})
            .with_trailers(async move { Some(Ok(map)) });
        http::Response::new(Body::new(body))
    }

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0];
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    async fn decoded(response: http::Response<Body>) -> Result<String, Status> {
        let protobuf = |reply| decode_reply(reply, Format::Protobuf, None, &JsonOptions::default());
        decode(response, None, 1 << 20, protobuf).await
    }

    #[tokio::test]
    async fn a_request_is_one_exactly_sized_frame() {
        let body = encode(&"hi".to_owned(), PROTOBUF, false, 64).unwrap();
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.as_ref(), framed(&"hi".to_owned().encode_to_vec()));
        let err = encode(&"x".repeat(100), PROTOBUF, false, 64).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert!(err.message().contains("limit of 64 bytes"), "{err:?}");
    }

    #[tokio::test]
    async fn a_gzipped_request_is_one_flagged_frame_that_inflates_to_the_message() {
        let message = "hello ".repeat(100);
        let body = encode(&message, PROTOBUF, true, 1 << 20).unwrap();
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes[0], 1, "the frame is flagged compressed");
        assert!(bytes.len() < message.len(), "{} bytes", bytes.len());
        let inflated = frame::single_gzip(bytes, "the request", 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(inflated, message.encode_to_vec());
        let err = encode(&message, PROTOBUF, true, 64).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
    }

    #[tokio::test]
    async fn a_reply_with_ok_trailers_is_decoded() {
        let payload = "hello".to_owned().encode_to_vec();
        let ok = reply(&framed(&payload), Some(("grpc-status", "0")));
        assert_eq!(decoded(ok).await.unwrap(), "hello");
    }

    #[tokio::test]
    async fn statuses_in_headers_or_trailers_are_the_error() {
        let mut trailers_only = reply(&[], None);
        let headers = trailers_only.headers_mut();
        headers.insert("grpc-status", "5".parse().unwrap());
        headers.insert("grpc-message", "no%20such%20thing".parse().unwrap());
        let err = decoded(trailers_only).await.unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (Code::NotFound, "no such thing")
        );

        let failed = reply(&[], Some(("grpc-status", "14")));
        assert_eq!(decoded(failed).await.unwrap_err().code(), Code::Unavailable);
    }

    #[tokio::test]
    async fn a_status_in_the_headers_does_not_count_when_more_follows() {
        let with_status = |mut response: http::Response<Body>| {
            let headers = response.headers_mut();
            headers.insert("grpc-status", "9".parse().unwrap());
            response
        };
        // Trailers that carry a status win over the headers'.
        let trailed = with_status(reply(&[], Some(("grpc-status", "8"))));
        let err = decoded(trailed).await.unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
        // A body after a trailers-only status is a broken reply.
        let payload = "hello".to_owned().encode_to_vec();
        let bodied = with_status(reply(&framed(&payload), None));
        let err = decoded(bodied).await.unwrap_err();
        assert_eq!(err.code(), Code::Internal, "{err:?}");
        assert!(err.message().contains("trailers-only"), "{err:?}");
    }

    #[tokio::test]
    async fn bad_replies_say_what_is_wrong() {
        let payload = "hello".to_owned().encode_to_vec();
        let ok = Some(("grpc-status", "0"));
        let mut compressed = framed(&payload);
        compressed[0] = 1;
        let cut = &framed(&payload)[..6];
        let two = [framed(&payload), framed(&payload)].concat();
        for (frames, trailers, code, says) in [
            (vec![], ok, Code::Unimplemented, "without a reply message"),
            (vec![0, 0], ok, Code::Internal, "prefix is cut short"),
            (cut.to_vec(), ok, Code::Internal, "cut short: 1 of 7 bytes"),
            (two, ok, Code::Unimplemented, "more than one message"),
            (compressed, ok, Code::Internal, "compressed"),
            (framed(&[0xff]), ok, Code::Internal, "cannot decode"),
            (
                framed(&payload),
                None,
                Code::Unknown,
                "without a grpc-status",
            ),
        ] {
            let err = decoded(reply(&frames, trailers)).await.unwrap_err();
            assert_eq!(err.code(), code, "{err:?}");
            assert!(err.message().contains(says), "{err:?}");
        }
        let mut not_found = reply(&[], None);
        *not_found.status_mut() = http::StatusCode::NOT_FOUND;
        let err = decoded(not_found).await.unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
    }
}
