//! [`Call`]: one call from a generated client, with per-call options, awaited to run.

use std::fmt;

use futures_util::TryFutureExt;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use super::ResponseMetadata;
use super::address::authority;
use super::retry::Hedging;
use super::route::Route;
use crate::BoxFuture;
use crate::Status;
use crate::metadata::{Binary, MetadataKey, MetadataMap, MetadataValue};
use crate::rpc::{MethodInfo, ServiceInfo};
use crate::selector::Strategy;

/// A call about to be made. Set per-call options, then `.await` it.
///
/// ```no_run
/// # async fn demo(client: micro::Call<String>) -> Result<(), micro::Status> {
/// # let greeting = client;
/// // let greeting = helloworld.greeting(request)
/// let reply = greeting
///     .timeout(std::time::Duration::from_secs(2))
///     .metadata("x-request-id", "42")
///     .await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<T> {
    options: CallOptions,
    run: Box<dyn FnOnce(CallOptions) -> BoxFuture<'static, Result<T, Status>> + Send>,
}

/// Options of one call.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) metadata: MetadataMap,
    /// Routing overrides, if any were set.
    pub(crate) route: Option<Route>,
    /// A bad option, reported when the call is awaited.
    pub(crate) invalid: Option<Status>,
    /// Where the response's headers and trailers go, if the caller wants them.
    pub(crate) capture: Option<ResponseMetadata>,
    /// Whether request messages are gzipped.
    pub(crate) gzip: bool,
}

/// Which service and method a call is for. Travels in the request's extensions so that client
/// middleware can route by it.
#[derive(Debug, Clone)]
pub struct CallTarget {
    /// The name of the service called, e.g. `helloworld`.
    pub service: Arc<str>,
    /// The generated service the method belongs to.
    pub info: &'static ServiceInfo,
    /// The method called.
    pub method: &'static MethodInfo,
}

impl CallTarget {
    /// Method `index` of `info`, on the service named `service`; generated clients use it.
    #[doc(hidden)]
    pub fn new(service: &Arc<str>, info: &'static ServiceInfo, index: usize) -> CallTarget {
        CallTarget {
            service: service.clone(),
            info,
            method: &info.methods[index],
        }
    }
}

impl<T: Send + 'static> Call<T> {
    pub(crate) fn new<F, Fut>(run: F) -> Call<T>
    where
        F: FnOnce(CallOptions) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Status>> + Send + 'static,
    {
        Call {
            options: CallOptions::default(),
            run: Box::new(move |options| Box::pin(run(options))),
        }
    }

    /// The call, its result converted by `convert`; its options stay settable.
    pub(crate) fn map<U: Send + 'static>(self, convert: fn(T) -> U) -> Call<U> {
        let run = self.run;
        Call {
            options: self.options,
            run: Box::new(move |options| Box::pin(run(options).map_ok(convert))),
        }
    }

    /// Fails with `DEADLINE_EXCEEDED` unless the call completes within `timeout`; the server
    /// learns the deadline too (`grpc-timeout`). Replaces the client's default timeout.
    pub fn timeout(mut self, timeout: Duration) -> Call<T> {
        self.options.timeout = Some(timeout);
        self
    }

    /// Adds a metadata entry (an HTTP/2 header) to the request. Keys are lowercase ASCII;
    /// values printable ASCII. An invalid entry fails the call with `INVALID_ARGUMENT`.
    pub fn metadata(mut self, key: &str, value: &str) -> Call<T> {
        let parsed = MetadataKey::from_bytes(key.as_bytes())
            .ok()
            .zip(MetadataValue::try_from(value).ok());
        match parsed {
            Some((key, value)) => {
                self.options.metadata.append(key, value);
            }
            None => {
                self.options.invalid.get_or_insert_with(|| {
                    Status::invalid_argument(format!(
                        "invalid call metadata `{key}`: keys must be lowercase ASCII letters, \
                         digits, `-`, `_` or `.`; values printable ASCII"
                    ))
                });
            }
        }
        self
    }
}

impl<T: Send + 'static> Call<T> {
    /// Adds a binary metadata entry; `key` must end in `-bin`, as gRPC requires (the value
    /// travels base64-encoded). An invalid key fails the call with `INVALID_ARGUMENT`.
    pub fn metadata_bin(mut self, key: &str, value: &[u8]) -> Call<T> {
        match MetadataKey::<Binary>::from_bytes(key.as_bytes()) {
            Ok(key) => {
                self.options
                    .metadata
                    .append_bin(key, MetadataValue::from_bytes(value));
            }
            Err(_) => {
                self.options.invalid.get_or_insert_with(|| {
                    Status::invalid_argument(format!(
                        "invalid binary metadata key `{key}`: keys end in `-bin` and are \
                         lowercase ASCII letters, digits, `-`, `_` or `.`"
                    ))
                });
            }
        }
        self
    }

    /// Records the response's headers and trailers into `metadata` (see [`ResponseMetadata`]).
    pub fn response_metadata(mut self, metadata: &ResponseMetadata) -> Call<T> {
        self.options.capture = Some(metadata.clone());
        self
    }

    /// Compresses the request messages with gzip. Replies may come compressed whether or not
    /// this is set: the client always accepts gzip.
    pub fn gzip(mut self) -> Call<T> {
        self.options.gzip = true;
        self
    }

    /// Sends this call to `address` (`host:port` or `http://host:port`) instead of a node the
    /// registry lists, with the client's TLS settings. An invalid address fails the call with
    /// `INVALID_ARGUMENT`, as does `https://` (give that to
    /// [`ClientBuilder::address`](super::ClientBuilder::address), or set the client's TLS).
    pub fn address(mut self, address: &str) -> Call<T> {
        if super::address::is_https(address) {
            self.options
                .invalid
                .get_or_insert_with(|| {
                    Status::invalid_argument(format!(
                        "a call's own address is dialled with its client's TLS settings: pass                          `{address}` to ClientBuilder::address, or configure the client's TLS                          (ClientBuilder::tls, tls_ca_file) and give host:port here"
                    ))
                });
            return self;
        }
        match authority(address) {
            Ok(address) => self.route().address = Some(address),
            Err(err) => {
                self.options
                    .invalid
                    .get_or_insert_with(|| Status::invalid_argument(err.to_string()));
            }
        }
        self
    }

    /// Retries this call at most `retries` times (0 disables retries), instead of the
    /// client's setting.
    pub fn retries(mut self, retries: u32) -> Call<T> {
        self.route().retries = Some(retries);
        self
    }

    /// Hedges this call as `hedging` says, instead of its method's policy
    /// ([`ClientBuilder::hedge`](super::ClientBuilder::hedge)): another copy goes to another
    /// node after each delay without a response, and the first response wins. Only for calls
    /// that are safe to run more than once; ignored for client and bidi streams.
    pub fn hedge(mut self, hedging: Hedging) -> Call<T> {
        self.route().hedging = Some(hedging);
        self
    }

    /// Picks the node for this call with `strategy` instead of the client's.
    pub fn selector(mut self, strategy: Strategy) -> Call<T> {
        self.route().strategy = Some(strategy);
        self
    }

    fn route(&mut self) -> &mut Route {
        self.options.route.get_or_insert_with(Route::default)
    }
}

impl<T: Send + 'static> IntoFuture for Call<T> {
    type Output = Result<T, Status>;
    type IntoFuture = BoxFuture<'static, Result<T, Status>>;

    fn into_future(self) -> Self::IntoFuture {
        let mut options = self.options;
        match options.invalid.take() {
            Some(status) => Box::pin(std::future::ready(Err(status))),
            None => (self.run)(options),
        }
    }
}

impl<T> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
