//! Connect unary requests before they reach the handler: `GET` requests (the message in the
//! query, for methods marked `idempotency_level = NO_SIDE_EFFECTS`) become the `POST` they
//! encode, and gzip-compressed bodies (`Content-Encoding: gzip`) are inflated.

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Method, header};
use http_body_util::{BodyExt, Full, Limited};

use crate::codec::{Format, frame};
use crate::server::Body;
use crate::{BoxError, Code, Status};

/// The compressions Connect unary requests may use, as `Accept-Encoding` lists them.
pub(crate) const ACCEPTED: HeaderValue = HeaderValue::from_static("gzip");

/// Whether `request` is a Connect GET: the message and its encoding in the query.
pub(crate) fn is_get<B>(request: &http::Request<B>) -> bool {
    request.method() == Method::GET
        && query(request.uri()).any(|(name, _)| name == "encoding" || name == "connect")
}

fn query(uri: &http::Uri) -> impl Iterator<Item = (String, String)> + '_ {
    let query = uri.query().unwrap_or("");
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(&text.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
}

/// The `POST` a Connect GET encodes, and its codec: `message` (base64url when `base64=1`) is
/// the body, `encoding` the codec, `compression` its content encoding.
pub(crate) fn from_get(
    request: http::Request<Body>,
) -> Result<(http::Request<Body>, Format), Status> {
    let (mut parts, _) = request.into_parts();
    let mut message = None;
    let (mut encoding, mut base64, mut compression) = (None, false, None);
    for (name, value) in query(&parts.uri) {
        match name.as_str() {
            "message" => message = Some(value),
            "encoding" => encoding = Some(value),
            "base64" => base64 = value == "1",
            "compression" => compression = Some(value),
            _ => {}
        }
    }
    let codec = match encoding.as_deref() {
        Some("json") => Format::Json,
        Some("proto") => Format::Protobuf,
        Some(other) => {
            return Err(Status::invalid_argument(format!(
                "unknown Connect GET encoding `{other}`; use json or proto"
            )));
        }
        None => {
            return Err(Status::invalid_argument(
                "a Connect GET request needs `encoding=json` or `encoding=proto` in its query",
            ));
        }
    };
    let message = message.unwrap_or_default();
    let body = match base64 {
        true => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(message.trim_end_matches('='))
            .map_err(|err| {
                Status::invalid_argument(format!("the `message` query is not base64url: {err}"))
            })?,
        false => message.into_bytes(),
    };
    parts.method = Method::POST;
    parts.headers.remove(header::CONTENT_ENCODING);
    if let Some(compression) = compression.filter(|c| c != "identity") {
        let value = HeaderValue::try_from(compression)
            .map_err(|_| Status::invalid_argument("invalid `compression` query"))?;
        parts.headers.insert(header::CONTENT_ENCODING, value);
    }
    let body = Body::new(Full::new(Bytes::from(body)).map_err(|never| match never {}));
    Ok((http::Request::from_parts(parts, body), codec))
}

/// Inflates a gzip body (`Content-Encoding: gzip`) up to `limit` bytes; other encodings are
/// refused with `UNIMPLEMENTED`, as Connect asks.
pub(crate) async fn decompress(
    request: http::Request<Body>,
    limit: usize,
) -> Result<http::Request<Body>, Status> {
    let encoding = request
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap_or("").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("" | "identity") => return Ok(request),
        Some("gzip") => {}
        Some(other) => {
            return Err(Status::unimplemented(format!(
                "unsupported Content-Encoding `{other}`; this server accepts gzip"
            )));
        }
    }
    let (mut parts, body) = request.into_parts();
    let compressed = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|err: BoxError| Status::resource_exhausted(format!("reading the request: {err}")))?
        .to_bytes();
    let inflated = frame::gunzip(&compressed, "the request", limit, Code::InvalidArgument)?;
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = Body::new(Full::new(inflated).map_err(|never| match never {}));
    Ok(http::Request::from_parts(parts, body))
}
