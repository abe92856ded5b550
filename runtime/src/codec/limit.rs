//! Rejects oversized gRPC messages from their length prefix, before buffering them.
//!
//! tonic rejects them too, but with `OUT_OF_RANGE`; gRPC's convention (and grpc-go's, which
//! go-micro services use) is `RESOURCE_EXHAUSTED`, which clients treat as "message too large".

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::frame::PREFIX_LEN;
use crate::{BoxError, Status};

pin_project! {
    /// A body of gRPC-framed messages that fails with `RESOURCE_EXHAUSTED` at the first message
    /// whose declared length exceeds the limit.
    pub(crate) struct FrameLimit<B> {
        #[pin]
        inner: B,
        framing: Framing,
    }
}

impl<B> FrameLimit<B> {
    pub(crate) fn new(inner: B, limit: usize) -> FrameLimit<B> {
        let framing = Framing {
            limit,
            prefix: [0; PREFIX_LEN],
            prefix_len: 0,
            remaining: 0,
        };
        FrameLimit { inner, framing }
    }
}

impl<B> Body for FrameLimit<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        let frame = match futures_core::ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(err)) => return Poll::Ready(Some(Err(Status::from_error(err.into())))),
            None => return Poll::Ready(None),
        };
        if let Some(data) = frame.data_ref() {
            this.framing.scan(data.clone())?;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Where the scan is in the stream of length-prefixed messages.
struct Framing {
    limit: usize,
    prefix: [u8; PREFIX_LEN],
    prefix_len: usize,
    /// Bytes of the current message still to pass.
    remaining: usize,
}

impl Framing {
    fn scan(&mut self, mut data: Bytes) -> Result<(), Status> {
        // Fast path: the chunk lies inside the current message.
        if self.remaining >= data.len() {
            self.remaining -= data.len();
            return Ok(());
        }
        while data.has_remaining() {
            if self.remaining > 0 {
                let skip = self.remaining.min(data.remaining());
                data.advance(skip);
                self.remaining -= skip;
                continue;
            }
            self.prefix[self.prefix_len] = data.get_u8();
            self.prefix_len += 1;
            if self.prefix_len == PREFIX_LEN {
                self.prefix_len = 0;
                let [_, a, b, c, d] = self.prefix;
                let len = u32::from_be_bytes([a, b, c, d]) as usize;
                if len > self.limit {
                    return Err(too_large(len, self.limit));
                }
                self.remaining = len;
            }
        }
        Ok(())
    }
}

fn too_large(len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "message of {len} bytes exceeds the limit of {limit} bytes; send smaller messages or \
         raise the limit (--server-max-message-size)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn framed(len: u32) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend(std::iter::repeat_n(7u8, len as usize));
        out
    }

    /// Feeds `bytes` in chunks of `chunk` bytes and reports whether the body rejected them.
    async fn rejects(bytes: Vec<u8>, chunk: usize, limit: usize) -> Option<tonic::Code> {
        let chunks: Vec<Result<Frame<Bytes>, Status>> = bytes
            .chunks(chunk)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        let body = FrameLimit::new(StreamBody::new(futures_util::stream::iter(chunks)), limit);
        body.collect().await.err().map(|status| status.code())
    }

    #[tokio::test]
    async fn messages_within_the_limit_pass_in_any_chunking() {
        let mut bytes = framed(10);
        bytes.extend(framed(0));
        bytes.extend(framed(10));
        for chunk in [1, 3, 5, 7, 100] {
            assert_eq!(
                rejects(bytes.clone(), chunk, 10).await,
                None,
                "chunk {chunk}"
            );
        }
    }

    #[tokio::test]
    async fn an_oversized_message_is_resource_exhausted_in_any_chunking() {
        let mut bytes = framed(3);
        bytes.extend(framed(11));
        for chunk in [1, 2, 6, 64] {
            assert_eq!(
                rejects(bytes.clone(), chunk, 10).await,
                Some(tonic::Code::ResourceExhausted),
                "chunk {chunk}"
            );
        }
    }
}
