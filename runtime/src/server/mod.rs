//! The server side: serving generated handlers, health and reflection on one port.
//!
//! Users meet this module through [`Service`](crate::Service); its public items are what
//! generated code implements ([`Handler`]) and describes ([`ServiceInfo`]).

mod builtin;
pub(crate) mod call;
mod cors;
pub(crate) mod dispatch;
mod error;
mod health;
mod leftover;
mod pipeline;
mod probe_port;
mod probes;
pub(crate) mod protocol;
mod router;
mod serve;
mod unary;
pub(crate) mod wrapper;

use std::future::Future;
use std::pin::Pin;

pub use crate::rpc::{Body, MethodInfo, RpcKind, ServiceInfo};

pub use cors::Cors;
pub use dispatch::{bidi_streaming, client_streaming, server_streaming, unary, unknown_method};
pub use error::{Error, ErrorKind};

pub(crate) use crate::context::outgoing::{Outgoing, TrailerNames};
pub(crate) use builtin::Builtins;
pub(crate) use probe_port::serve_probes;
pub(crate) use probes::{Check, Probes};
pub(crate) use router::Router;
pub use serve::Stack;
pub(crate) use serve::{ServeOptions, serve};
pub use wrapper::{HandlerRequest, HandlerResponse, HandlerService};

use crate::Status;
use call::CallMeta;

/// A response on its way: what [`Handler::call`] returns.
pub type ResponseFuture = Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>;

/// A service a [`Service`](crate::Service) can serve; protoc-gen-micro implements it for each
/// generated `<Svc>Server`.
///
/// Implementing it by hand is possible but rarely useful: prefer generating code.
pub trait Handler: Send + Sync + 'static {
    /// The service's description: names, methods, descriptors.
    fn info(&self) -> &'static ServiceInfo;

    /// Serves one call of `info().methods[method]`.
    fn call(&self, method: usize, call: Incoming) -> ResponseFuture;
}

/// One incoming call, routed to a method of a [`Handler`].
pub struct Incoming {
    request: http::Request<Body>,
    meta: CallMeta,
    wire: Wire,
    target: Target,
}

/// Where the router sent a call.
#[derive(Debug)]
struct Target {
    /// The index of the handler, and of the method in its [`ServiceInfo`].
    handler: usize,
    method: usize,
    /// The method's metrics, until the metrics layer starts the call's.
    metrics: Option<std::sync::Arc<crate::metrics::EndpointMetrics>>,
}

/// How a call's messages travel.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wire {
    /// gRPC framing (gRPC itself, and gRPC-Web and Connect streams translated to it).
    Grpc(Framed),
    /// The whole request body is the one request message (Connect unary, go-micro).
    Unframed(UnframedReply),
}

impl Wire {
    /// The response of a call that failed with `status`: trailers-only gRPC, or for an
    /// unframed call the [`Failure`] itself, which the protocol adapter writes in its own form.
    pub(crate) fn failed(self, status: Status) -> http::Response<Body> {
        match self {
            Wire::Grpc(_) => status.into_http(),
            Wire::Unframed(_) => {
                let mut response = http::Response::new(Body::empty());
                response.extensions_mut().insert(Failure(status));
                response
            }
        }
    }
}

/// The status of a failed unframed call (Connect unary, go-micro), carried typed to the
/// protocol adapter in the response's extensions.
#[derive(Debug, Clone)]
pub(crate) struct Failure(pub(crate) Status);

/// How a gRPC-framed call's messages are read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Framed {
    pub(crate) codec: crate::codec::Format,
    /// The code of a request message that does not decode, as the protocol's reference
    /// implementation answers: `INTERNAL` in grpc-go, `INVALID_ARGUMENT` in connect-go.
    pub(crate) undecodable: crate::Code,
}

/// How an unframed unary call (Connect unary, go-micro) is read and its reply written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnframedReply {
    pub(crate) codec: crate::codec::Format,
    /// The reply's content type.
    pub(crate) content_type: &'static str,
    /// Whether to end the body with a newline (go-micro's JSON does).
    pub(crate) newline: bool,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("path", &self.meta.method.path)
            .finish_non_exhaustive()
    }
}
