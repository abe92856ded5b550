//! [`Client`]: what generated clients call through, a tower stack ending in a transport.

mod call;
mod connection;
mod invoke;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use prost::Message;
use tower::util::BoxCloneSyncService;

pub use call::{Call, CallTarget};

use crate::codec::Codec;
use crate::server::Body;
use crate::service::DEFAULT_MAX_MESSAGE_SIZE;
use crate::transcode::JsonOptions;
use crate::{Status, Streaming};
use invoke::Invocation;

/// How long a call may take unless configured otherwise: 30 s, as in go-micro.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The tower service every call goes through: gRPC requests in, responses out. Failures to
/// deliver a request are statuses too (`UNAVAILABLE` for a refused connection).
pub(crate) type Transport = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Status>;

/// Makes calls for generated clients (`HelloworldClient::new(client)`). Cheap to clone; clones
/// share connections.
///
/// ```no_run
/// # fn demo() -> Result<(), micro::client::Error> {
/// let client = micro::Client::builder()
///     .address("127.0.0.1:8080")
///     .timeout(std::time::Duration::from_secs(5))
///     .build()?;
/// // let helloworld = HelloworldClient::new(client);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    address: String,
    options: Options,
}

#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) timeout: Duration,
    /// `timeout` as a `grpc-timeout` value, encoded once.
    pub(crate) timeout_header: http::HeaderValue,
    pub(crate) max_message_size: usize,
    pub(crate) codec: Codec,
    pub(crate) json: Arc<JsonOptions>,
}

impl Client {
    /// A client of the service at `address` (`host:port` or `http://host:port`), with default
    /// options. It connects on first use.
    pub fn connect(address: &str) -> Result<Client, Error> {
        Client::builder().address(address).build()
    }

    /// Configures a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            address: None,
            options: Options {
                timeout: DEFAULT_TIMEOUT,
                timeout_header: crate::deadline::encode(DEFAULT_TIMEOUT),
                max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
                codec: Codec::Protobuf,
                json: Arc::new(JsonOptions::default()),
            },
        }
    }

    /// Where calls go.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    pub(crate) fn options(&self) -> &Options {
        &self.inner.options
    }

    fn grpc(&self) -> tonic::client::Grpc<Transport> {
        let limit = self.inner.options.max_message_size;
        tonic::client::Grpc::new(self.inner.transport.clone())
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit)
    }

    fn invocation(&self, target: CallTarget, options: call::CallOptions) -> Invocation {
        Invocation {
            client: self.clone(),
            target,
            options,
        }
    }

    /// A unary call; generated clients use it.
    #[doc(hidden)]
    pub fn unary<Req, Resp>(&self, target: CallTarget, request: Req) -> Call<Resp>
    where
        Req: Message + Send + 'static,
        Resp: Message + Default + Send + 'static,
    {
        let client = self.clone();
        Call::new(move |options| client.invocation(target, options).unary(request))
    }

    /// A server-streaming call; generated clients use it.
    #[doc(hidden)]
    pub fn server_streaming<Req, Resp>(
        &self,
        target: CallTarget,
        request: Req,
    ) -> Call<Streaming<Resp>>
    where
        Req: Message + Send + 'static,
        Resp: Message + Default + Send + 'static,
    {
        let client = self.clone();
        Call::new(move |options| client.invocation(target, options).server_streaming(request))
    }

    /// A client-streaming call; generated clients use it.
    #[doc(hidden)]
    pub fn client_streaming<Req, Resp, S>(&self, target: CallTarget, requests: S) -> Call<Resp>
    where
        Req: Message + Send + 'static,
        Resp: Message + Default + Send + 'static,
        S: Stream<Item = Req> + Send + 'static,
    {
        let client = self.clone();
        Call::new(move |options| {
            client
                .invocation(target, options)
                .client_streaming(requests)
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
        Req: Message + Send + 'static,
        Resp: Message + Default + Send + 'static,
        S: Stream<Item = Req> + Send + 'static,
    {
        let client = self.clone();
        Call::new(move |options| client.invocation(target, options).bidi_streaming(requests))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.inner.address)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    address: Option<String>,
    options: Options,
}

impl ClientBuilder {
    /// Sends every call to this address: `host:port` or `http://host:port`.
    pub fn address(mut self, address: impl Into<String>) -> ClientBuilder {
        self.address = Some(address.into());
        self
    }

    /// How long a call may take unless it sets its own timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.options.timeout = timeout;
        self.options.timeout_header = crate::deadline::encode(timeout);
        self
    }

    /// Largest message sent or accepted, in bytes (default 4 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> ClientBuilder {
        self.options.max_message_size = bytes;
        self
    }

    /// Sends and receives messages as protobuf (the default) or as JSON
    /// (`application/grpc+json`), which any micro service and many gRPC servers accept.
    pub fn codec(mut self, codec: Codec) -> ClientBuilder {
        self.options.codec = codec;
        self
    }

    /// How JSON messages are written, with [`Codec::Json`].
    pub fn json_options(mut self, options: JsonOptions) -> ClientBuilder {
        self.options.json = Arc::new(options);
        self
    }

    /// Builds the client. It connects lazily, on the first call.
    pub fn build(self) -> Result<Client, Error> {
        let address = self
            .address
            .ok_or_else(|| Error::new("no address to call; set one with ClientBuilder::address"))?;
        let transport = transport::direct(&address, self.options.max_message_size)?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                address,
                options: self.options,
            }),
        })
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
