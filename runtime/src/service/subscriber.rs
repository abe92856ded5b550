//! Subscriber wrappers (go-micro's `WrapSubscriber`): they see each message's topic, headers,
//! body and decoded payload before the subscriber does.

use std::any::Any;
use std::future::Future;

use futures_util::FutureExt;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::broker::Message;
use crate::middleware::{Continuation, Continued};
use crate::{BoxError, Context};

/// The stack of subscriber wrappers, and what
/// [`Service::wrap_subscriber`](crate::Service::wrap_subscriber) layers wrap.
pub type SubscriberService = BoxCloneSyncService<SubscriberRequest, (), BoxError>;

/// A message on its way to a subscriber.
pub struct SubscriberRequest {
    ctx: Context,
    topic: String,
    message: Message,
    payload: Box<dyn Any + Send>,
    next: Option<Continuation<SubscriberRequest, (), BoxError>>,
}

impl SubscriberRequest {
    /// The subscriber's context: its metadata are the message headers.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The topic the message arrived on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The message as it arrived: headers and encoded body.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The decoded payload, if it is a `T` (the subscriber's message type).
    pub fn payload<T: Any>(&self) -> Option<&T> {
        self.payload.downcast_ref()
    }

    /// The decoded payload, to change before the subscriber sees it (keep its type).
    pub fn payload_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.payload.downcast_mut()
    }
}

impl std::fmt::Debug for SubscriberRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberRequest")
            .field("topic", &self.topic)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl Continued<(), BoxError> for SubscriberRequest {
    fn take_continuation(&mut self) -> Option<Continuation<SubscriberRequest, (), BoxError>> {
        self.next.take()
    }

    fn lost() -> BoxError {
        "a subscriber wrapper passed on a message that was not the one it got".into()
    }
}

/// Runs `subscriber` on the decoded `payload` through `wrappers`.
pub(super) async fn run<M, F, Fut>(
    wrappers: SubscriberService,
    ctx: Context,
    topic: String,
    message: Message,
    payload: M,
    subscriber: F,
) -> Result<(), BoxError>
where
    M: Send + 'static,
    F: FnOnce(Context, M) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let next: Continuation<SubscriberRequest, (), BoxError> = Box::new(
        move |request: SubscriberRequest| match request.payload.downcast::<M>() {
            Ok(payload) => subscriber(request.ctx, *payload).boxed(),
            Err(_) => {
                let error = format!(
                    "a subscriber wrapper replaced the payload on {} with one of another type",
                    request.topic
                );
                std::future::ready(Err(error.into())).boxed()
            }
        },
    );
    let request = SubscriberRequest {
        ctx,
        topic,
        message,
        payload: Box::new(payload),
        next: Some(next),
    };
    wrappers.oneshot(request).await
}
