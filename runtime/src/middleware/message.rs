//! A decoded message whose type is known only at run time, as wrappers see it.

use std::any::Any;
use std::fmt;

/// A decoded request or response of any message type. Downcast it to the type the endpoint
/// takes: `message.downcast_ref::<HelloRequest>()` for a generated message, or
/// `message.downcast_ref::<micro::codec::Json<Request>>()` for a proto-less handler's serde
/// type.
pub trait AnyMessage: Any + Send + Sync {
    /// The message as `Any`, to downcast.
    fn as_any(&self) -> &dyn Any;

    /// The message as mutable `Any`, to change it in place.
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// The boxed message as `Any`, to take it back by value.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;

    /// The message in its own wire format: protobuf for a generated message, JSON for a
    /// serde type (`micro::codec::Json`).
    fn encoded(&self) -> Vec<u8>;

    /// The Rust type's name, e.g. `helloworld::Request`.
    fn type_name(&self) -> &'static str;
}

impl<M: prost::Message + 'static> AnyMessage for M {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }

    fn encoded(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<M>()
    }
}

impl fmt::Debug for dyn AnyMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.type_name(), self.encoded().len())
    }
}

impl dyn AnyMessage {
    /// The message as a `T`, if it is one.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.as_any().downcast_ref()
    }

    /// The message as a mutable `T`, if it is one.
    pub fn downcast_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.as_any_mut().downcast_mut()
    }

    /// Whether the message is a `T`.
    pub fn is<T: Any>(&self) -> bool {
        self.as_any().is::<T>()
    }
}

/// What a wrapped call carries where a message may be: a message, or [`Streamed`] for the
/// streams that carry none the wrapper can see.
pub(crate) trait Erase: Send + Sized + 'static {
    fn erase(self) -> Option<Box<dyn AnyMessage>>;

    /// The value back from what a wrapper passed on; `None` if it changed the type.
    fn restore(message: Option<Box<dyn AnyMessage>>) -> Option<Self>;
}

/// No message a wrapper sees: a request or response that is a stream.
pub(crate) struct Streamed;

impl Erase for Streamed {
    fn erase(self) -> Option<Box<dyn AnyMessage>> {
        None
    }

    fn restore(message: Option<Box<dyn AnyMessage>>) -> Option<Streamed> {
        message.is_none().then_some(Streamed)
    }
}
