//! [`Client`]: what generated clients call through, a tower stack that resolves the service
//! through the registry, picks a node, retries on another, and sends over pooled HTTP/2
//! connections.
//!
//! The stack, top to bottom: layers added with [`ClientBuilder::layer`], the retry layer
//! (buffers the request, retries connection failures and `UNAVAILABLE` on another node within
//! the deadline and a retry budget), the balancer (registry cache → filter → strategy, outlier
//! ejection) and the connection pool.

mod address;
mod attempt;
mod balance;
mod buffered;
mod builder;
mod call;
mod connection;
mod failure;
mod headers;
mod invoke;
pub(crate) mod mucp;
mod pipeline;
mod plain;
mod pool;
mod publish;
mod response;
mod retry;
mod route;
mod stack;
mod streams;
mod unary;
mod wrapper;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use tonic::codec::CompressionEncoding;
use tower::util::BoxCloneSyncService;

pub use builder::ClientBuilder;
pub(crate) use call::CallOptions;
pub use call::{Call, CallTarget};
pub use response::ResponseMetadata;
pub use retry::{
    DEFAULT_MAX_TOKENS, DEFAULT_RETRIES, DEFAULT_TOKEN_RATIO, ExponentialBackoff, Hedging,
    MAX_ATTEMPTS,
};
pub use wrapper::{CallRequest, CallResponse, CallService};

use crate::codec::{Codable, Format};
use crate::middleware::Streamed;
use crate::registry::Registry;
use crate::rpc::Body;
use crate::transcode::JsonOptions;
use crate::{Status, Streaming};
use balance::Destination;
pub(crate) use invoke::Invocation;
use stack::Stack;

/// How long a call may take unless configured otherwise: 30 s, as in go-micro.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The internal bound of a call without a timeout ([`ClientBuilder::without_timeout`]).
const NO_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Connections per node at most, unless configured. More than one, because a single HTTP/2
/// connection's stream handling becomes the bottleneck under load (hyperium/h2#531); the
/// second is opened only when the first carries [`DEFAULT_STREAMS_PER_CONNECTION`] calls.
pub const DEFAULT_POOL_SIZE: usize = 4;

/// Calls in flight on a connection before the pool opens another to the same node: 100, the
/// concurrent-stream limit many gRPC servers and proxies set.
pub const DEFAULT_STREAMS_PER_CONNECTION: usize = 100;

/// How long a node's connections stay open without calls, as go-micro's pool TTL.
pub const DEFAULT_POOL_IDLE: Duration = Duration::from_secs(60);

/// The share of calls that may be retried while failures persist: the retry throttle's
/// default token ratio ([`ClientBuilder::retry_throttle`]).
pub const DEFAULT_RETRY_BUDGET: f32 = DEFAULT_TOKEN_RATIO;

/// Metadata passed on from the call being served to the calls its handler makes.
pub const DEFAULT_PROPAGATED_METADATA: [&str; 4] =
    ["x-request-id", "traceparent", "tracestate", "baggage"];

/// The tower service every call goes through, and what [`ClientBuilder::layer`] wraps: gRPC
/// requests in, responses out. The request's extensions hold its [`CallTarget`]. Failures
/// to deliver a request are statuses too (`UNAVAILABLE` for a refused connection).
pub type Transport = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Status>;

/// Makes calls for generated clients (`HelloworldClient::new(client)`). Cheap to clone; clones
/// share connections, round-robin positions and the retry budget.
///
/// A client resolves services through a registry (the usual way; [`Service::client`]
/// builds one on the service's registry) or sends everything to one address:
///
/// ```no_run
/// # use std::sync::Arc;
/// # fn demo() -> Result<(), micro::client::Error> {
/// // By service name, through the registry: random node, retries on another.
/// let registry = Arc::new(micro::registry::MemoryRegistry::new());
/// let client = micro::Client::builder()
///     .registry(registry)
///     .selector(micro::selector::Strategy::RoundRobin)
///     .build()?;
/// // To one address.
/// let direct = micro::Client::builder()
///     .address("127.0.0.1:8080")
///     .timeout(std::time::Duration::from_secs(5))
///     .build()?;
/// // let helloworld = HelloworldClient::new(client);
/// # Ok(())
/// # }
/// ```
///
/// [`Service::client`]: crate::Service::client
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    stack: Stack,
    /// The call wrappers every call goes through, if there are any.
    wrappers: Option<CallService>,
    destination: Destination,
    options: Options,
}

#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) timeout: Duration,
    /// `timeout` as a `grpc-timeout` value, encoded once; `None` without a default timeout.
    pub(crate) timeout_header: Option<http::HeaderValue>,
    pub(crate) max_message_size: usize,
    pub(crate) codec: Format,
    pub(crate) json: Arc<JsonOptions>,
    /// Metadata keys passed on from the call being served.
    pub(crate) propagate: Arc<[http::HeaderName]>,
    /// `Micro-From-Service` for calls made outside a handler.
    pub(crate) caller: Option<http::HeaderValue>,
    /// Where [`Client::publish`] sends messages.
    pub(crate) broker: Option<Arc<dyn crate::broker::Broker>>,
    /// Where calls are counted (`micro_client_request_total`), for a service's client.
    pub(crate) metrics: Option<crate::metrics::Metrics>,
    /// Where attempts' and publishes' spans are exported, for a service's client.
    pub(crate) telemetry: crate::telemetry::Telemetry,
}

impl Client {
    /// A client of the service at `address` (`host:port` or `http://host:port`), with default
    /// options. It connects on first use.
    pub fn connect(address: &str) -> Result<Client, Error> {
        Client::builder().address(address).build()
    }

    /// A client that finds services in `registry`, with default options.
    pub fn with_registry(registry: Arc<dyn Registry>) -> Result<Client, Error> {
        Client::builder().registry(registry).build()
    }

    /// Configures a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The address every call goes to, for a client built with one.
    pub fn address(&self) -> Option<&str> {
        match &self.inner.destination {
            Destination::Address(address) => Some(address),
            Destination::Registry(_) => None,
        }
    }

    pub(crate) fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Sends one request down the client's stack.
    fn send(
        &self,
        request: http::Request<Body>,
    ) -> impl Future<Output = Result<http::Response<Body>, Status>> + Send + '_ {
        self.inner.stack.send(request)
    }

    fn grpc(&self) -> tonic::client::Grpc<Transport> {
        let limit = self.inner.options.max_message_size;
        tonic::client::Grpc::new(self.inner.stack.transport())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit)
    }

    /// An invocation carrying `Req`s and `Resp`s: in the client's codec, or in JSON for
    /// proto-less messages to a method without descriptors (which protobuf would need).
    fn invocation<Req: Codable, Resp: Codable>(
        &self,
        target: CallTarget,
        options: call::CallOptions,
    ) -> Invocation {
        let codec = self.inner.options.codec;
        let described = !target.info.file_descriptor_set.is_empty();
        let needs = Req::needs_descriptor(codec) || Resp::needs_descriptor(codec);
        Invocation {
            format: match needs && !described {
                true => Format::Json,
                false => codec,
            },
            client: self.clone(),
            target,
            options,
        }
    }

    /// An invocation in protobuf whatever the client's codec: what dynamic calls
    /// ([`crate::dynamic`]) send.
    pub(crate) fn protobuf_invocation(
        &self,
        target: CallTarget,
        options: CallOptions,
    ) -> Invocation {
        Invocation {
            format: Format::Protobuf,
            client: self.clone(),
            target,
            options,
        }
    }

    /// A unary call; generated clients use it.
    #[doc(hidden)]
    pub fn unary<Req, Resp>(&self, target: CallTarget, request: Req) -> Call<Resp>
    where
        Req: Codable,
        Resp: Codable,
    {
        let client = self.clone();
        Call::new(move |options| {
            let wrappers = client.inner.wrappers.clone();
            let call = move |target, options, request| async move {
                let invocation = client.invocation::<Req, Resp>(target, options);
                let format = invocation.format;
                let types = match Resp::needs_descriptor(format) {
                    true => invocation.types()?,
                    false => None,
                };
                // Only a message described by its descriptors reads the JSON options.
                let json = types.as_ref().map(|_| client.options().json.clone());
                let decode = move |reply: bytes::Bytes| {
                    let output = types.as_ref().map(|types| &types.output);
                    let json = json.as_deref().unwrap_or(&JsonOptions::DEFAULT);
                    unary::decode_reply(reply, format, output, json)
                };
                invocation.unary(request, decode).await
            };
            wrapper::wrapped(wrappers, target, options, request, call)
        })
    }

    /// A server-streaming call; generated clients use it.
    #[doc(hidden)]
    pub fn server_streaming<Req, Resp>(
        &self,
        target: CallTarget,
        request: Req,
    ) -> Call<Streaming<Resp>>
    where
        Req: Codable,
        Resp: Codable,
    {
        let client = self.clone();
        Call::new(move |options| {
            let wrappers = client.inner.wrappers.clone();
            let call = move |target, options, request| async move {
                let invocation = client.invocation::<Req, Resp>(target, options);
                let codec = invocation.codec()?;
                invocation.server_streaming(request, codec).await
            };
            wrapper::wrapped_stream(wrappers, target, options, request, call)
        })
    }

    /// A client-streaming call; generated clients use it.
    #[doc(hidden)]
    pub fn client_streaming<Req, Resp, S>(&self, target: CallTarget, requests: S) -> Call<Resp>
    where
        Req: Codable,
        Resp: Codable,
        S: Stream<Item = Req> + Send + 'static,
    {
        let client = self.clone();
        Call::new(move |options| {
            let wrappers = client.inner.wrappers.clone();
            let call = move |target, options, Streamed| async move {
                let invocation = client.invocation::<Req, Resp>(target, options);
                let codec = invocation.codec()?;
                invocation.client_streaming(requests, codec).await
            };
            wrapper::wrapped(wrappers, target, options, Streamed, call)
        })
    }

    /// A bidirectional streaming call; generated clients use it.
    #[doc(hidden)]
    pub fn bidi_streaming<Req, Resp, S>(
        &self,
        target: CallTarget,
        requests: S,
    ) -> Call<Streaming<Resp>>
    where
        Req: Codable,
        Resp: Codable,
        S: Stream<Item = Req> + Send + 'static,
    {
        let client = self.clone();
        Call::new(move |options| {
            let wrappers = client.inner.wrappers.clone();
            let call = move |target, options, Streamed| async move {
                let invocation = client.invocation::<Req, Resp>(target, options);
                let codec = invocation.codec()?;
                Ok(invocation.bidi_streaming_started(requests, codec).await)
            };
            wrapper::wrapped_stream(wrappers, target, options, Streamed, call)
        })
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("destination", &self.inner.destination)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_without_a_destination_says_how_to_give_it_one() {
        let err = Client::builder().build().unwrap_err().to_string();
        assert!(
            err.contains(
                "neither a registry nor an address to call; set one with ClientBuilder::registry"
            ),
            "{err}"
        );
    }
}
