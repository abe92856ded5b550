//! The streams a call hands back or sends: cut off at the deadline, started in a task, and
//! watched for the transport's first read.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use futures_util::FutureExt;
use tokio::time::{Instant, Sleep};

use super::ResponseMetadata;
use super::call::CallTarget;
use super::pipeline::deadline_exceeded;
use crate::{BoxFuture, Status, Streaming};

/// A request stream that says when the transport first asks it for a message.
pub(super) struct FirstPoll<S> {
    pub(super) inner: Pin<Box<S>>,
    pub(super) signal: Option<tokio::sync::oneshot::Sender<()>>,
}

impl<S: Stream> Stream for FirstPoll<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<S::Item>> {
        if let Some(signal) = self.signal.take() {
            let _ = signal.send(());
        }
        self.inner.as_mut().poll_next(cx)
    }
}

/// The response stream of a call running in its own task: the task's stream once it has one.
pub(super) struct Started<T> {
    /// The task's result.
    pub(super) result:
        BoxFuture<'static, Result<Result<Streaming<T>, Status>, tokio::task::JoinError>>,
    pub(super) abort: tokio::task::AbortHandle,
    pub(super) responses: Option<Streaming<T>>,
    /// Ends the request stream.
    pub(super) stop: futures_util::stream::AbortHandle,
}

impl<T> Stream for Started<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.responses.is_none() {
            if this.stop.is_aborted() {
                return Poll::Ready(None);
            }
            match std::task::ready!(this.result.as_mut().poll(cx)) {
                Ok(Ok(responses)) => this.responses = Some(responses),
                Ok(Err(status)) => {
                    this.stop.abort();
                    return Poll::Ready(Some(Err(status)));
                }
                Err(err) => {
                    this.stop.abort();
                    return Poll::Ready(Some(Err(Status::cancelled(format!(
                        "the call's task ended: {err}"
                    )))));
                }
            }
        }
        match &mut this.responses {
            Some(responses) => Pin::new(responses).poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

impl<T> Drop for Started<T> {
    fn drop(&mut self) {
        self.abort.abort();
        self.stop.abort();
    }
}

/// A response stream cut off at the call's deadline.
pub(super) struct DeadlineStream<T> {
    pub(super) inner: tonic::Streaming<T>,
    pub(super) sleep: Pin<Box<Sleep>>,
    /// Taken when the deadline passes, which ends the stream.
    pub(super) target: Option<CallTarget>,
    pub(super) started: Instant,
    /// Where the trailers go once the stream ends.
    pub(super) capture: Option<ResponseMetadata>,
}

impl<T> Stream for DeadlineStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.target.is_none() {
            return Poll::Ready(None);
        }
        // The deadline first: once it has passed, the call is over even if messages wait.
        if this.sleep.as_mut().poll(cx).is_ready()
            && let Some(target) = this.target.take()
        {
            return Poll::Ready(Some(Err(deadline_exceeded(
                &target,
                this.started.elapsed(),
            ))));
        }
        if let Poll::Ready(mut item) = Pin::new(&mut this.inner).poll_next(cx) {
            // A stream that broke as its deadline passed (the server reset it) timed out,
            // even if the timer has not fired yet (it fires on the driver's next tick).
            if matches!(item, Some(Err(_)))
                && Instant::now() >= this.sleep.deadline()
                && let Some(target) = this.target.take()
            {
                item = Some(Err(deadline_exceeded(&target, this.started.elapsed())));
            }
            if let Some(capture) = &this.capture {
                match &item {
                    Some(Ok(_)) => {}
                    Some(Err(status)) => {
                        capture.set_trailers(status.metadata().clone().into_headers())
                    }
                    // The stream has read its trailers by the time it ends.
                    None => {
                        if let Some(Ok(Some(trailers))) = this.inner.trailers().now_or_never() {
                            capture.set_trailers(trailers.into_headers());
                        }
                    }
                }
            }
            return Poll::Ready(item);
        }
        match (this.sleep.as_mut().poll(cx), this.target.take()) {
            (Poll::Ready(()), Some(target)) => Poll::Ready(Some(Err(deadline_exceeded(
                &target,
                this.started.elapsed(),
            )))),
            (_, target) => {
                this.target = target;
                Poll::Pending
            }
        }
    }
}
