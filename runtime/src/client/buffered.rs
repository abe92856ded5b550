//! What the retry layer keeps in memory: the request, to send it again, and a unary reply
//! read whole, so a reply cut off mid-way can be retried before the caller sees any of it.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::{BodyExt, Full};

use super::CallTarget;
use super::route::{CallDeadline, Route, Tried};
use crate::Status;
use crate::server::Body;

/// A buffered request that can be sent again: its body, headers, and the extensions the
/// layers below read (copied only when a retry happens).
pub(super) struct Replay {
    uri: http::Uri,
    headers: http::HeaderMap,
    target: Option<CallTarget>,
    deadline: Option<CallDeadline>,
    route: Option<Route>,
    tried: Option<Tried>,
    codec: Option<crate::codec::Codec>,
    body: Bytes,
}

impl Replay {
    /// Reads the request body into memory, leaving a copy in `request`.
    pub(super) async fn buffer(request: &mut http::Request<Body>) -> Result<Replay, Status> {
        let body = std::mem::replace(request.body_mut(), Body::empty());
        let (body, _) = Whole::read(body).await?.into_parts();
        let body = body.unwrap_or_default();
        *request.body_mut() = Body::new(Full::new(body.clone()));
        let extensions = request.extensions();
        Ok(Replay {
            uri: request.uri().clone(),
            headers: request.headers().clone(),
            target: extensions.get().cloned(),
            deadline: extensions.get().copied(),
            route: extensions.get().cloned(),
            tried: extensions.get().cloned(),
            codec: extensions.get().copied(),
            body,
        })
    }

    pub(super) fn request(&self) -> http::Request<Body> {
        let mut request = http::Request::new(Body::new(Full::new(self.body.clone())));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        let extensions = request.extensions_mut();
        self.target.clone().map(|target| extensions.insert(target));
        self.deadline.map(|deadline| extensions.insert(deadline));
        self.route.clone().map(|route| extensions.insert(route));
        self.tried.clone().map(|tried| extensions.insert(tried));
        self.codec.map(|codec| extensions.insert(codec));
        request
    }
}

/// A response body read whole: its data (one frame, as unary replies come), its trailers, or
/// the error that stopped the reading where the caller should see it.
#[derive(Debug, Default)]
pub(super) struct Whole {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
    error: Option<Status>,
}

impl Whole {
    /// Reads `body` to its end.
    pub(super) async fn read(mut body: Body) -> Result<Whole, Status> {
        let mut whole = Whole::default();
        let mut joined: Option<BytesMut> = None;
        while let Some(frame) = body.frame().await {
            let frame = match frame?.into_data() {
                Ok(chunk) => {
                    match (&whole.data, &mut joined) {
                        (None, _) => whole.data = Some(chunk),
                        (Some(first), None) => {
                            let mut buffer = BytesMut::from(first.as_ref());
                            buffer.extend_from_slice(&chunk);
                            joined = Some(buffer);
                        }
                        (Some(_), Some(buffer)) => buffer.extend_from_slice(&chunk),
                    }
                    continue;
                }
                Err(frame) => frame,
            };
            if let Ok(trailers) = frame.into_trailers() {
                whole.trailers = Some(trailers);
            }
        }
        if let Some(joined) = joined {
            whole.data = Some(joined.freeze());
        }
        Ok(whole)
    }

    /// A body failing with `status` when read.
    pub(super) fn failed(status: Status) -> Whole {
        Whole {
            error: Some(status),
            ..Whole::default()
        }
    }

    pub(super) fn trailers(&self) -> Option<&http::HeaderMap> {
        self.trailers.as_ref()
    }

    /// The data and the trailers.
    pub(super) fn into_parts(self) -> (Option<Bytes>, Option<http::HeaderMap>) {
        (self.data, self.trailers)
    }
}

impl http_body::Body for Whole {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(status) = self.error.take() {
            return Poll::Ready(Some(Err(status)));
        }
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(
            self.trailers
                .take()
                .map(|trailers| Ok(Frame::trailers(trailers))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.error.is_none() && self.data.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    fn body(frames: Vec<Result<Frame<Bytes>, Status>>) -> Body {
        Body::new(StreamBody::new(futures_util::stream::iter(frames)))
    }

    #[tokio::test]
    async fn frames_are_joined_and_trailers_kept() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let whole = Whole::read(body(vec![
            Ok(Frame::data(Bytes::from_static(b"ab"))),
            Ok(Frame::data(Bytes::from_static(b"c"))),
            Ok(Frame::trailers(trailers.clone())),
        ]))
        .await
        .unwrap();
        assert_eq!(whole.trailers(), Some(&trailers));
        let collected = Body::new(whole).collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"abc"));
    }

    #[tokio::test]
    async fn an_error_midway_is_the_result() {
        let err = Whole::read(body(vec![
            Ok(Frame::data(Bytes::from_static(b"ab"))),
            Err(Status::internal("reset")),
        ]))
        .await
        .unwrap_err();
        assert_eq!(err.message(), "reset");
        let failed = Body::new(Whole::failed(Status::resource_exhausted("too big")));
        let err = failed.collect().await.unwrap_err();
        assert_eq!(err.code(), crate::Code::ResourceExhausted);
    }
}
