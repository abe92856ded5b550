//! HTTP/1.1 request bodies a response did not wait for.
//!
//! A call refused before its body was read (an unknown path, a bad content type, a message
//! over the limit) would leave the client writing into a connection hyper is about to close:
//! the client sees a broken pipe instead of the error. So the unread rest of an HTTP/1.1 body
//! comes back here when the handler drops it, and is read (up to a bound) before the response
//! goes out. HTTP/2 resets just the stream and needs none of this.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;

use super::Body;
use crate::Status;

/// How much of an unread body is read before answering, at most.
const DRAIN_LIMIT: usize = 8 << 20;

/// How long the client may take to send it.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a dropped, unfinished body goes.
#[derive(Clone, Default)]
pub(super) struct Leftover(Arc<Mutex<Option<Body>>>);

impl Leftover {
    /// Wraps `body` so that, dropped before its end, it comes back here.
    pub(super) fn track(&self, body: Body) -> Body {
        Body::new(Tracked {
            inner: Some(body),
            leftover: self.clone(),
        })
    }

    /// Reads what is left of the body, if the handler left some, within the bounds.
    pub(super) async fn drain(&self) {
        let body = self.0.lock().ok().and_then(|mut slot| slot.take());
        let Some(mut body) = body else { return };
        let read = async {
            let mut total = 0;
            while let Some(Ok(frame)) = body.frame().await {
                total += frame.data_ref().map_or(0, Bytes::len);
                if total > DRAIN_LIMIT {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, read).await;
    }
}

/// A request body that hands itself back to its [`Leftover`] if dropped unfinished.
struct Tracked {
    inner: Option<Body>,
    leftover: Leftover,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && !inner.is_end_stream()
            && let Ok(mut slot) = self.leftover.0.lock()
        {
            *slot = Some(inner);
        }
    }
}
