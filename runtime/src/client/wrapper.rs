//! Call wrappers (go-micro's `WrapCall`): they see each call's target, metadata, timeout and
//! request before it goes out, and its response when it is back.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::Either;
use futures_util::{FutureExt, TryFutureExt};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use super::call::{CallOptions, CallTarget};
use crate::Status;
use crate::metadata::MetadataMap;
use crate::middleware::{AnyMessage, Continuation, Continued, Erase, Streamed, replaced};

/// The stack of call wrappers, and what [`ClientBuilder::wrap_call`](super::ClientBuilder::wrap_call)
/// layers wrap.
pub type CallService = BoxCloneSyncService<CallRequest, CallResponse, Status>;

/// A call about to go out.
pub struct CallRequest {
    target: CallTarget,
    options: CallOptions,
    message: Option<Box<dyn AnyMessage>>,
    next: Option<Continuation<CallRequest, CallResponse, Status>>,
}

impl CallRequest {
    /// The service and method called.
    pub fn target(&self) -> &CallTarget {
        &self.target
    }

    /// The endpoint called, e.g. `Helloworld.Greeting`.
    pub fn endpoint(&self) -> &'static str {
        self.target.method.endpoint
    }

    /// The metadata the call sends.
    pub fn metadata(&self) -> &MetadataMap {
        &self.options.metadata
    }

    /// The metadata the call sends, to add to.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.options.metadata
    }

    /// The call's own timeout, if it set one (otherwise the client's applies).
    pub fn timeout(&self) -> Option<Duration> {
        self.options.timeout
    }

    /// Sets the call's timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.options.timeout = Some(timeout);
    }

    /// The request; `None` for client and bidirectional streams.
    pub fn message(&self) -> Option<&dyn AnyMessage> {
        self.message.as_deref()
    }

    /// The request, to change before it is sent (keep its type).
    pub fn message_mut(&mut self) -> Option<&mut (dyn AnyMessage + 'static)> {
        self.message.as_deref_mut()
    }
}

impl std::fmt::Debug for CallRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRequest")
            .field("service", &self.target.service)
            .field("endpoint", &self.endpoint())
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl Continued<CallResponse, Status> for CallRequest {
    fn take_continuation(&mut self) -> Option<Continuation<CallRequest, CallResponse, Status>> {
        self.next.take()
    }

    fn lost() -> Status {
        Status::internal("a call wrapper passed on a request that was not the one it got")
    }
}

/// What a call brought back.
#[derive(Debug)]
pub struct CallResponse {
    message: Option<Box<dyn AnyMessage>>,
}

impl CallResponse {
    /// A response with `message`, for a wrapper that answers itself (a cache, say); it must
    /// be the method's response type.
    pub fn new(message: impl AnyMessage) -> CallResponse {
        CallResponse {
            message: Some(Box::new(message)),
        }
    }

    /// The response; `None` for server and bidirectional streams.
    pub fn message(&self) -> Option<&dyn AnyMessage> {
        self.message.as_deref()
    }

    /// The response, to change before the caller gets it (keep its type).
    pub fn message_mut(&mut self) -> Option<&mut (dyn AnyMessage + 'static)> {
        self.message.as_deref_mut()
    }
}

/// `call` made with `target`, `options` and `request` through `wrappers`, if there are any.
pub(super) fn wrapped<Req, Resp, F, Fut>(
    wrappers: Option<CallService>,
    target: CallTarget,
    options: CallOptions,
    request: Req,
    call: F,
) -> impl Future<Output = Result<Resp, Status>> + Send + 'static
where
    Req: Erase,
    Resp: Erase,
    F: FnOnce(CallTarget, CallOptions, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    match wrappers {
        None => Either::Left(call(target, options, request)),
        // Boxed, so that unwrapped calls' futures stay as small as they were.
        Some(wrappers) => Either::Right(Box::pin(run(wrappers, target, options, request, call))),
    }
}

/// [`wrapped`] for a call whose response is a stream (or anything a wrapper cannot see).
pub(super) fn wrapped_stream<Req, T, F, Fut>(
    wrappers: Option<CallService>,
    target: CallTarget,
    options: CallOptions,
    request: Req,
    call: F,
) -> impl Future<Output = Result<T, Status>> + Send + 'static
where
    Req: Erase,
    T: Send + 'static,
    F: FnOnce(CallTarget, CallOptions, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Status>> + Send + 'static,
{
    let Some(wrappers) = wrappers else {
        return Either::Left(call(target, options, request));
    };
    let slot = Arc::new(Mutex::new(None));
    let filled = slot.clone();
    let call = move |target, options, request| {
        call(target, options, request).map_ok(move |value| {
            *filled.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            Streamed
        })
    };
    let endpoint = target.method.endpoint;
    let made = run(wrappers, target, options, request, call);
    Either::Right(Box::pin(made.map(move |made| {
        made?;
        let value = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        value.ok_or_else(|| {
            Status::internal(format!(
                "a call wrapper answered the stream of {endpoint} without making the call"
            ))
        })
    })))
}

async fn run<Req, Resp, F, Fut>(
    wrappers: CallService,
    target: CallTarget,
    options: CallOptions,
    request: Req,
    call: F,
) -> Result<Resp, Status>
where
    Req: Erase,
    Resp: Erase,
    F: FnOnce(CallTarget, CallOptions, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let endpoint = target.method.endpoint;
    let next: Continuation<CallRequest, CallResponse, Status> =
        Box::new(move |request: CallRequest| {
            let Some(message) = Req::restore(request.message) else {
                return std::future::ready(Err(replaced("call", "request", endpoint))).boxed();
            };
            call(request.target, request.options, message)
                .map_ok(|reply| CallResponse {
                    message: reply.erase(),
                })
                .boxed()
        });
    let request = CallRequest {
        target,
        options,
        message: request.erase(),
        next: Some(next),
    };
    let response = wrappers.oneshot(request).await?;
    Resp::restore(response.message).ok_or_else(|| replaced("call", "response", endpoint))
}
