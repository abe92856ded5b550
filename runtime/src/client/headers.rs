//! The headers a call carries besides its own metadata: what the call being served passes on
//! (allow-listed metadata, its trace as the parent), the caller's name, and no header gRPC
//! reserves.

use super::Options;
use crate::Context;
use crate::metadata::MetadataMap;
use crate::trace::TRACEPARENT_HEADER;

/// Headers gRPC reserves, which call metadata must not set (as tonic drops them too).
static RESERVED: [http::HeaderName; 5] = [
    http::header::TE,
    http::header::CONTENT_TYPE,
    http::HeaderName::from_static("grpc-message"),
    http::HeaderName::from_static("grpc-message-type"),
    crate::codec::frame::GRPC_STATUS,
];

/// The call's metadata as headers, without those gRPC reserves.
pub(super) fn sanitized(metadata: MetadataMap) -> http::HeaderMap {
    let mut headers = metadata.into_headers();
    if !headers.is_empty() {
        for reserved in &RESERVED {
            headers.remove(reserved);
        }
    }
    headers
}

/// The header naming the calling service, as go-micro sets it.
const FROM_SERVICE: http::HeaderName = http::HeaderName::from_static("micro-from-service");

/// Copies the allow-listed metadata of the call being served, passes its trace on (as the
/// parent of this call) and names the caller, unless the call set them itself.
pub(super) fn propagate(
    headers: &mut http::HeaderMap,
    current: Option<&Context>,
    options: &Options,
) {
    if let Some(ctx) = current {
        // The call being served is the parent of this one, whatever the caller sent.
        if let Some(trace) = ctx.trace()
            && !headers.contains_key(&TRACEPARENT_HEADER)
            && let Ok(value) = http::HeaderValue::try_from(trace.traceparent())
        {
            headers.insert(TRACEPARENT_HEADER.clone(), value);
        }
        for key in options.propagate.iter() {
            if headers.contains_key(key) {
                continue;
            }
            if let Some(value) = ctx.metadata().as_ref().get(key) {
                headers.insert(key.clone(), value.clone());
            }
        }
    }
    if headers.contains_key(&FROM_SERVICE) {
        return;
    }
    let caller = current
        .filter(|ctx| !ctx.service().is_empty())
        .and_then(|ctx| http::HeaderValue::from_str(ctx.service()).ok())
        .or_else(|| options.caller.clone());
    if let Some(caller) = caller {
        headers.insert(FROM_SERVICE, caller);
    }
}
