//! Message streams: [`Streaming`] receives, [`Sender`] sends.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

mod queue;

use futures_core::Stream;
use futures_util::StreamExt;

use crate::Status;
pub(crate) use queue::QueueReceiver;
use queue::QueueSender;

/// A stream of incoming messages: a client's requests in a handler, or a server's responses in a
/// client. Ends with `Ok(None)`; a broken call ends it with an error instead.
///
/// ```
/// # async fn demo(mut requests: micro::Streaming<String>) -> Result<(), micro::Status> {
/// while let Some(message) = requests.recv().await? {
///     println!("{message}");
/// }
/// # Ok(())
/// # }
/// ```
pub struct Streaming<T> {
    inner: Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>,
}

impl<T> Streaming<T> {
    /// Wraps any stream of messages, e.g. to unit-test a streaming handler.
    pub fn new(stream: impl Stream<Item = Result<T, Status>> + Send + 'static) -> Streaming<T> {
        Streaming {
            inner: Box::pin(stream),
        }
    }

    /// The next message; `Ok(None)` once the peer has finished sending.
    pub async fn recv(&mut self) -> Result<Option<T>, Status> {
        self.inner.next().await.transpose()
    }
}

impl<T> Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T> fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming").finish_non_exhaustive()
    }
}

/// Sends a streaming handler's responses. The call ends when the handler returns: messages
/// already sent are delivered, then the handler's result becomes the call's status.
///
/// ```
/// # async fn demo(responses: micro::Sender<String>) -> Result<(), micro::Status> {
/// for word in ["hello", "world"] {
///     responses.send(word.to_owned()).await?;
/// }
/// # Ok(())
/// # }
/// ```
pub struct Sender<T> {
    inner: QueueSender<T>,
}

impl<T> Sender<T> {
    /// A sender and the receiving end of its buffer of `capacity` messages.
    pub(crate) fn channel(capacity: usize) -> (Sender<T>, QueueReceiver<T>) {
        let (inner, receiver) = queue::queue(capacity);
        (Sender { inner }, receiver)
    }

    /// Sends one message, waiting while the buffer is full (the peer reads slowly).
    ///
    /// Fails with `CANCELLED` once the call is over: the client went away, the deadline passed,
    /// or the handler already returned.
    pub async fn send(&self, message: T) -> Result<(), Status> {
        self.inner
            .send(message)
            .await
            .map_err(|_| Status::cancelled("the call has ended; no more messages can be sent"))
    }

    /// Whether the call is over, so that [`send`](Self::send) would fail.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streaming_yields_messages_then_none() {
        let items = futures_util::stream::iter([Ok(1), Ok(2)]);
        let mut stream = Streaming::new(items);
        assert_eq!(stream.recv().await.unwrap(), Some(1));
        assert_eq!(stream.recv().await.unwrap(), Some(2));
        assert_eq!(stream.recv().await.unwrap(), None);
    }

    #[tokio::test]
    async fn send_fails_once_the_receiver_is_gone() {
        let (sender, receiver) = Sender::channel(1);
        sender.send(1).await.unwrap();
        drop(receiver);
        assert!(sender.is_closed());
        let err = sender.send(2).await.unwrap_err();
        assert_eq!(err.code(), crate::Code::Cancelled);
    }
}
