//! Handler wrappers (go-micro's `WrapHandler`): they see each call's endpoint, metadata and
//! decoded request before the handler, and its response after it.

use std::future::Future;

use futures_util::FutureExt;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::metadata::MetadataMap;
use crate::middleware::{AnyMessage, Continuation, Continued, Erase, replaced};
use crate::{Context, Status};

/// The stack of handler wrappers, and what [`Service::wrap_handler`](crate::Service::wrap_handler)
/// layers wrap.
pub type HandlerService = BoxCloneSyncService<HandlerRequest, HandlerResponse, Status>;

/// A call on its way to its handler.
pub struct HandlerRequest {
    ctx: Context,
    message: Option<Box<dyn AnyMessage>>,
    next: Option<Continuation<HandlerRequest, HandlerResponse, Status>>,
}

impl HandlerRequest {
    /// The call's context: service, endpoint, metadata, deadline, peer, account.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Replaces the context the handler gets, e.g. with more metadata.
    pub fn set_context(&mut self, ctx: Context) {
        self.ctx = ctx;
    }

    /// The endpoint called, e.g. `Helloworld.Greeting`.
    pub fn endpoint(&self) -> &'static str {
        self.ctx.endpoint()
    }

    /// The call's metadata (its headers).
    pub fn metadata(&self) -> &MetadataMap {
        self.ctx.metadata()
    }

    /// The decoded request; `None` for client and bidirectional streams, whose messages the
    /// handler reads itself.
    pub fn message(&self) -> Option<&dyn AnyMessage> {
        self.message.as_deref()
    }

    /// The decoded request, to change before the handler sees it (keep its type).
    pub fn message_mut(&mut self) -> Option<&mut (dyn AnyMessage + 'static)> {
        self.message.as_deref_mut()
    }
}

impl std::fmt::Debug for HandlerRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerRequest")
            .field("endpoint", &self.endpoint())
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl Continued<HandlerResponse, Status> for HandlerRequest {
    fn take_continuation(
        &mut self,
    ) -> Option<Continuation<HandlerRequest, HandlerResponse, Status>> {
        self.next.take()
    }

    fn lost() -> Status {
        Status::internal("a handler wrapper passed on a request that was not the one it got")
    }
}

/// What a handler answered.
#[derive(Debug)]
pub struct HandlerResponse {
    message: Option<Box<dyn AnyMessage>>,
}

impl HandlerResponse {
    /// A response with `message`, for a wrapper that answers itself (it must be the
    /// endpoint's response type).
    pub fn new(message: impl AnyMessage) -> HandlerResponse {
        HandlerResponse {
            message: Some(Box::new(message)),
        }
    }

    /// The response; `None` for server and bidirectional streams, whose messages go out as
    /// the handler sends them.
    pub fn message(&self) -> Option<&dyn AnyMessage> {
        self.message.as_deref()
    }

    /// The response, to change before it is sent (keep its type).
    pub fn message_mut(&mut self) -> Option<&mut (dyn AnyMessage + 'static)> {
        self.message.as_deref_mut()
    }
}

/// Runs `handler` with `ctx` and `request` through `wrappers`.
pub(crate) async fn run<Req, Resp, F, Fut>(
    wrappers: HandlerService,
    ctx: Context,
    request: Req,
    handler: F,
) -> Result<Resp, Status>
where
    Req: Erase,
    Resp: Erase,
    F: FnOnce(Context, Req) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let endpoint = ctx.endpoint();
    let next: Continuation<HandlerRequest, HandlerResponse, Status> =
        Box::new(move |request: HandlerRequest| {
            let Some(message) = Req::restore(request.message) else {
                return std::future::ready(Err(replaced("handler", "request", endpoint))).boxed();
            };
            handler(request.ctx, message)
                .map(|reply| {
                    reply.map(|reply| HandlerResponse {
                        message: reply.erase(),
                    })
                })
                .boxed()
        });
    let request = HandlerRequest {
        ctx,
        message: request.erase(),
        next: Some(next),
    };
    let response = wrappers.oneshot(request).await?;
    Resp::restore(response.message).ok_or_else(|| replaced("handler", "response", endpoint))
}
