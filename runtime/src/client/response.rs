//! [`ResponseMetadata`]: what a server sent besides messages, captured for the caller.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::metadata::MetadataMap;

/// Collects a call's response headers and trailers, as grpc-go's `grpc.Header` and
/// `grpc.Trailer` call options do. Pass it to [`Call::response_metadata`](super::Call::response_metadata)
/// and read it once the call is done (for a stream: once it has ended).
///
/// Over gRPC, unary replies read by tonic's codec (JSON, compressed calls) carry headers and
/// trailers merged, as tonic merges them: both appear in [`headers`](Self::headers).
///
/// ```no_run
/// # async fn demo(call: micro::Call<String>) -> Result<(), micro::Status> {
/// let metadata = micro::client::ResponseMetadata::default();
/// let reply = call.response_metadata(&metadata).await?;
/// println!("cache: {:?}", metadata.headers().get("x-cache"));
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct ResponseMetadata {
    inner: Arc<Mutex<Parts>>,
}

#[derive(Default)]
struct Parts {
    headers: MetadataMap,
    trailers: MetadataMap,
}

impl ResponseMetadata {
    fn lock(&self) -> MutexGuard<'_, Parts> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The response headers (a copy).
    pub fn headers(&self) -> MetadataMap {
        self.lock().headers.clone()
    }

    /// The response trailers (a copy): the metadata sent with the final status, including a
    /// failed call's.
    pub fn trailers(&self) -> MetadataMap {
        self.lock().trailers.clone()
    }

    pub(crate) fn set_headers(&self, headers: http::HeaderMap) {
        self.lock().headers = MetadataMap::from_headers(without_protocol(headers));
    }

    pub(crate) fn set_trailers(&self, trailers: http::HeaderMap) {
        self.lock().trailers = MetadataMap::from_headers(without_protocol(trailers));
    }
}

/// The metadata of a response, without the headers its protocol uses.
fn without_protocol(mut headers: http::HeaderMap) -> http::HeaderMap {
    for name in [
        "content-type",
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "grpc-accept-encoding",
    ] {
        headers.remove(name);
    }
    headers
}

impl fmt::Debug for ResponseMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = self.lock();
        f.debug_struct("ResponseMetadata")
            .field("headers", &parts.headers)
            .field("trailers", &parts.trailers)
            .finish()
    }
}
