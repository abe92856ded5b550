//! What a handler sends back besides messages: response headers and trailers
//! ([`Context::set_header`](crate::Context::set_header),
//! [`Context::set_trailer`](crate::Context::set_trailer)), and when headers go out.
//!
//! Headers leave with the first response message, when the handler returns, or when a
//! streaming handler waits for the client's next message, whichever comes first (grpc-go's
//! rule, plus the last so that a handler reading before it writes never stalls a client that
//! waits for headers). Trailers are added to the call's final `grpc-status` trailers.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::Status;
use crate::metadata::MetadataMap;
use crate::rpc::Body;

/// The response metadata of one call, shared by its [`Context`](crate::Context) and the
/// protocol code that writes the response.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    parts: Mutex<Parts>,
}

#[derive(Debug, Default)]
struct Parts {
    headers: HeaderMap,
    trailers: HeaderMap,
    headers_sent: bool,
    /// The handler waits for the client or asked to send headers: they should go out now.
    send_now: bool,
    /// Wakes the response waiting to send its headers.
    waiting: Option<std::task::Waker>,
    /// The handler asked for its reply to go uncompressed.
    uncompressed: bool,
}

/// Headers the protocol owns; a handler setting them would corrupt the response.
fn reserved(name: &http::HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("grpc-")
        || name.starts_with(':')
        || matches!(
            name,
            "content-type" | "content-length" | "te" | "trailer" | "transfer-encoding"
        )
}

fn merge(into: &mut HeaderMap, metadata: MetadataMap) -> Result<(), Status> {
    let headers = metadata.into_headers();
    if let Some(name) = headers.keys().find(|name| reserved(name)) {
        return Err(Status::internal(format!(
            "response metadata may not set `{name}`: gRPC and HTTP reserve it"
        )));
    }
    for (name, value) in &headers {
        into.append(name.clone(), value.clone());
    }
    Ok(())
}

impl Outgoing {
    fn lock(&self) -> MutexGuard<'_, Parts> {
        // Nothing panics while holding the lock, but a poisoned lock still holds valid data.
        self.parts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn set_header(&self, metadata: MetadataMap) -> Result<(), Status> {
        let mut parts = self.lock();
        if parts.headers_sent {
            return Err(Status::internal(
                "response headers were already sent (with the first message, or when the \
                 handler waited for the client); set them earlier, or use set_trailer",
            ));
        }
        merge(&mut parts.headers, metadata)
    }

    pub(crate) fn set_trailer(&self, metadata: MetadataMap) -> Result<(), Status> {
        merge(&mut self.lock().trailers, metadata)
    }

    pub(crate) fn skip_compression(&self) {
        self.lock().uncompressed = true;
    }

    pub(crate) fn uncompressed(&self) -> bool {
        self.lock().uncompressed
    }

    /// Sends the headers now rather than with the first message: a streaming handler waits
    /// for the client's next message, or asked to.
    /// Whether the handler set headers or asked to send them: a failure then keeps them
    /// apart from the trailers instead of a trailers-only response.
    pub(crate) fn has_headers(&self) -> bool {
        let parts = self.lock();
        !parts.headers.is_empty() || parts.send_now
    }

    pub(crate) fn send_headers(&self) {
        let mut parts = self.lock();
        parts.send_now = true;
        if let Some(waker) = parts.waiting.take() {
            waker.wake();
        }
    }

    /// Whether headers should go out now; otherwise `waker` is woken when they should.
    fn should_send_headers(&self, waker: &std::task::Waker) -> bool {
        let mut parts = self.lock();
        if !parts.send_now {
            parts.waiting = Some(waker.clone());
        }
        parts.send_now
    }

    /// The headers and trailers set so far, marking the headers sent.
    pub(crate) fn take_all(&self) -> (HeaderMap, HeaderMap) {
        let mut parts = self.lock();
        parts.headers_sent = true;
        (
            std::mem::take(&mut parts.headers),
            std::mem::take(&mut parts.trailers),
        )
    }

    /// Adds the handler's headers to `response` (and, for a trailers-only response, its
    /// trailers too); later trailers join the body's final trailers.
    ///
    /// `returned` says the handler has returned, so its trailers are all set: without any,
    /// the body goes out as it is.
    pub(crate) fn finish(
        self: Arc<Self>,
        response: http::Response<Body>,
        returned: bool,
    ) -> http::Response<Body> {
        let (mut head, body) = response.into_parts();
        let trailers_only = head.headers.contains_key(crate::codec::frame::GRPC_STATUS);
        {
            let mut parts = self.lock();
            parts.headers_sent = true;
            extend(&mut head.headers, std::mem::take(&mut parts.headers));
            if trailers_only {
                let trailers = std::mem::take(&mut parts.trailers);
                let names = TrailerNames(trailers.keys().cloned().collect());
                extend(&mut head.headers, trailers);
                head.extensions.insert(names);
                return http::Response::from_parts(head, body);
            }
            if returned && parts.trailers.is_empty() {
                return http::Response::from_parts(head, body);
            }
        }
        let body = Body::new(WithTrailers {
            inner: body,
            outgoing: self,
        });
        http::Response::from_parts(head, body)
    }
}

/// The handler's trailers among a trailers-only response's headers, for protocols that send
/// trailers apart (Connect's end-of-stream message).
#[derive(Debug, Clone, Default)]
pub(crate) struct TrailerNames(pub(crate) Vec<http::HeaderName>);

fn extend(into: &mut HeaderMap, from: HeaderMap) {
    let mut name = None;
    for (key, value) in from {
        name = key.or(name);
        if let Some(name) = &name {
            into.append(name.clone(), value);
        }
    }
}

/// A response body whose final trailers also carry the handler's trailers.
struct WithTrailers {
    inner: Body,
    outgoing: Arc<Outgoing>,
}

impl HttpBody for WithTrailers {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        Poll::Ready(Some(Ok(match frame.into_trailers() {
            Ok(mut trailers) => {
                let extra = std::mem::take(&mut this.outgoing.lock().trailers);
                extend(&mut trailers, extra);
                Frame::trailers(trailers)
            }
            Err(frame) => frame,
        })))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A streaming handler's requests; waiting for more after the first sends the response
/// headers, so that a client waiting for them before it sends again never stalls. (Before the
/// first, the handler may still decide its headers from what the client sends.)
pub(crate) struct Requests<S> {
    inner: S,
    outgoing: Arc<Outgoing>,
    received: bool,
}

impl<S> Requests<S> {
    pub(crate) fn new(inner: S, outgoing: Arc<Outgoing>) -> Requests<S> {
        Requests {
            inner,
            outgoing,
            received: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for Requests<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<S::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        match &polled {
            Poll::Pending if self.received => self.outgoing.send_headers(),
            Poll::Ready(Some(_)) => self.received = true,
            _ => {}
        }
        polled
    }
}

/// Resolves once a streaming response may send its headers: `responses` produced its first
/// item (kept to be sent first) or ended, or the handler waits for the client.
pub(crate) async fn headers_ready<S: Stream + Unpin>(
    responses: &mut S,
    outgoing: &Outgoing,
) -> Option<Option<S::Item>> {
    std::future::poll_fn(|cx| match Pin::new(&mut *responses).poll_next(cx) {
        Poll::Ready(item) => Poll::Ready(Some(item)),
        Poll::Pending if outgoing.should_send_headers(cx.waker()) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn metadata(key: &'static str, value: &'static str) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert(key, value.parse().unwrap());
        map
    }

    fn grpc_response() -> http::Response<Body> {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let body = http_body_util::Full::new(bytes::Bytes::from_static(b"x"))
            .map_err(|never| match never {})
            .with_trailers(async move { Some(Ok(trailers)) });
        http::Response::new(Body::new(body))
    }

    #[tokio::test]
    async fn headers_and_trailers_join_the_response() {
        let outgoing = Arc::new(Outgoing::default());
        outgoing.set_header(metadata("x-a", "1")).unwrap();
        outgoing.set_trailer(metadata("x-b", "2")).unwrap();
        let response = outgoing.clone().finish(grpc_response(), false);
        assert_eq!(response.headers()["x-a"], "1");
        let trailers = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .trailers()
            .cloned()
            .unwrap();
        assert_eq!(trailers["x-b"], "2");
        assert_eq!(trailers["grpc-status"], "0");
        let late = outgoing.set_header(metadata("x-c", "3")).unwrap_err();
        assert!(late.message().contains("already sent"), "{late:?}");
    }

    #[tokio::test]
    async fn a_trailers_only_response_gets_both_in_its_headers() {
        let outgoing = Arc::new(Outgoing::default());
        outgoing.set_header(metadata("x-a", "1")).unwrap();
        outgoing.set_trailer(metadata("x-b", "2")).unwrap();
        let response = outgoing.finish(Status::not_found("gone").into_http(), false);
        assert_eq!(response.headers()["x-a"], "1");
        assert_eq!(response.headers()["x-b"], "2");
        assert_eq!(response.headers()["grpc-status"], "5");
    }

    #[test]
    fn protocol_headers_are_refused() {
        let outgoing = Outgoing::default();
        let err = outgoing
            .set_trailer(metadata("grpc-status", "0"))
            .unwrap_err();
        assert!(err.message().contains("`grpc-status`"), "{err:?}");
        assert!(outgoing.set_header(metadata("content-type", "x")).is_err());
    }
}
