//! The per-call context every handler receives: who called what, with which metadata, by when;
//! and what it sends back besides messages ([`outgoing`]).

pub(crate) mod outgoing;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::Status;
use crate::metadata::MetadataMap;
use crate::rpc::{MethodInfo, UNKNOWN_METHOD};
use crate::trace::{TraceContext, TraceId};
use outgoing::Outgoing;

/// What a handler knows about the call it serves. Cheap to clone.
///
/// ```
/// # use micro::Context;
/// fn log_call(ctx: &Context) {
///     let caller = ctx.get("micro-from-service").unwrap_or("unknown");
///     let budget = ctx.remaining().map(|left| format!("{left:?}")).unwrap_or("none".into());
///     println!("{} from {caller}, deadline in {budget}", ctx.endpoint());
/// }
/// log_call(&Context::default());
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<ContextParts>,
}

tokio::task_local! {
    /// The call the current task is serving.
    static CURRENT: Context;
}

impl Context {
    /// The context of the call this task is serving, if any: what clients read to pass the
    /// deadline and metadata on. Inside a handler it is set; in tasks the handler spawns it is
    /// not, unless the task runs under [`scope`](Self::scope).
    pub fn current() -> Option<Context> {
        CURRENT.try_with(Context::clone).ok()
    }

    /// Runs `future` with this context as [`current`](Self::current), e.g. in a task a
    /// handler spawns, so calls made there inherit the deadline and metadata.
    ///
    /// ```no_run
    /// # async fn handler(ctx: micro::Context) {
    /// tokio::spawn(ctx.scope(async {
    ///     // calls made here carry the handler's deadline
    /// }));
    /// # }
    /// ```
    pub fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    pub(crate) fn new(parts: ContextParts) -> Context {
        Context {
            inner: Arc::new(parts),
        }
    }

    /// The context of a subscriber handling a message: its headers as metadata, `trace` (the
    /// delivery's span, continuing the message's `traceparent`) as its trace.
    pub(crate) fn for_message(
        service: Arc<str>,
        headers: &std::collections::BTreeMap<String, String>,
        trace: TraceContext,
    ) -> Context {
        let mut metadata = MetadataMap::new();
        for (key, value) in headers {
            let key = crate::metadata::MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes());
            if let (Ok(key), Ok(value)) = (key, value.parse()) {
                metadata.insert(key, value);
            }
        }
        Context::new(ContextParts {
            service,
            metadata,
            trace: Some(trace),
            ..Arc::unwrap_or_clone(Context::default().inner)
        })
    }

    /// A copy with this metadata, for unit tests of handlers.
    pub fn with_metadata(self, metadata: MetadataMap) -> Context {
        self.map(|parts| parts.metadata = metadata)
    }

    /// A copy with this deadline, for unit tests of handlers.
    pub fn with_deadline(self, deadline: Instant) -> Context {
        self.map(|parts| parts.deadline = Some(deadline))
    }

    fn map(self, change: impl FnOnce(&mut ContextParts)) -> Context {
        let mut parts = Arc::unwrap_or_clone(self.inner);
        change(&mut parts);
        Context::new(parts)
    }

    /// The name this service runs under, e.g. `helloworld`.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The go-micro endpoint called, e.g. `Helloworld.Greeting`.
    pub fn endpoint(&self) -> &'static str {
        self.inner.method.endpoint
    }

    /// The method called: its gRPC path, kind and message types.
    pub fn method(&self) -> &'static MethodInfo {
        self.inner.method
    }

    /// The request metadata (HTTP/2 headers), keys lowercase.
    pub fn metadata(&self) -> &MetadataMap {
        &self.inner.metadata
    }

    /// One metadata value as text, if present and printable ASCII. Keys are case-insensitive.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.inner.metadata.get(key)?.to_str().ok()
    }

    /// When the caller stops waiting, if it set a deadline (`grpc-timeout`).
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline
    }

    /// Time left before the deadline; zero once it has passed, `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.inner
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// The caller's address, when the call came over TCP.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer
    }

    /// Values middleware attached to the call, such as the authenticated account.
    pub fn extensions(&self) -> &http::Extensions {
        &self.inner.extensions
    }

    /// This call's span in its distributed trace: continued from the caller's `traceparent`,
    /// or started here. Outgoing calls, publishes and events carry it on. `None` only for
    /// contexts made outside a call ([`Context::default`]).
    pub fn trace(&self) -> Option<&TraceContext> {
        self.inner.trace.as_ref()
    }

    /// The id of the trace this call belongs to, as logs and trace backends show it.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.inner.trace.as_ref().map(TraceContext::trace_id)
    }

    /// The caller's account, when the service checks auth
    /// ([`Service::auth`](crate::Service::auth)) and the call carried a valid token.
    pub fn account(&self) -> Option<&crate::auth::Account> {
        self.inner.extensions.get()
    }

    /// Adds `metadata` to the response headers, as grpc-go's `grpc.SetHeader` does.
    ///
    /// Headers go out with the first response message, when the handler returns, or when a
    /// streaming handler waits for the client's next message; after that this fails. Keys that
    /// gRPC or HTTP reserve (`grpc-*`, `content-type`…) are refused. Over Connect and go-micro's
    /// HTTP calls they are plain HTTP headers.
    ///
    /// ```
    /// # use micro::{Context, metadata::MetadataMap};
    /// # fn demo(ctx: &Context) -> Result<(), micro::Status> {
    /// let mut metadata = MetadataMap::new();
    /// metadata.insert("x-cache", "hit".parse().unwrap());
    /// ctx.set_header(metadata)?;
    /// # Ok(()) }
    /// # demo(&Context::default()).unwrap();
    /// ```
    pub fn set_header(&self, metadata: MetadataMap) -> Result<(), Status> {
        self.inner.outgoing.set_header(metadata)
    }

    /// Sends this unary call's reply uncompressed even though the service compresses replies
    /// ([`Service::compress_responses`](crate::Service::compress_responses)), e.g. for data
    /// that is already compressed. Streams follow the service's setting.
    pub fn skip_response_compression(&self) {
        self.inner.outgoing.skip_compression();
    }

    /// Sends the response headers now instead of with the first message, e.g. before a
    /// streaming handler waits for events, so that clients waiting for headers go on.
    pub fn send_headers(&self) {
        self.inner.outgoing.send_headers();
    }

    /// Adds `metadata` to the response trailers, sent after the last message with the call's
    /// status, as grpc-go's `grpc.SetTrailer` does. Reserved keys are refused as in
    /// [`set_header`](Self::set_header).
    pub fn set_trailer(&self, metadata: MetadataMap) -> Result<(), Status> {
        self.inner.outgoing.set_trailer(metadata)
    }
}

impl Default for Context {
    /// A context for no particular call: no metadata, no deadline, no peer.
    fn default() -> Context {
        Context::new(ContextParts {
            service: Arc::from(""),
            method: &UNKNOWN_METHOD,
            metadata: MetadataMap::new(),
            extensions: http::Extensions::new(),
            deadline: None,
            peer: None,
            trace: None,
            outgoing: Arc::default(),
        })
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("service", &self.inner.service)
            .field("endpoint", &self.inner.method.endpoint)
            .field("deadline", &self.inner.deadline)
            .field("peer", &self.inner.peer)
            .finish_non_exhaustive()
    }
}

/// Everything a [`Context`] is built from.
#[derive(Clone)]
pub(crate) struct ContextParts {
    pub(crate) service: Arc<str>,
    pub(crate) method: &'static MethodInfo,
    pub(crate) metadata: MetadataMap,
    pub(crate) extensions: http::Extensions,
    pub(crate) deadline: Option<Instant>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) trace: Option<TraceContext>,
    /// The response headers and trailers the handler sets.
    pub(crate) outgoing: Arc<Outgoing>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_counts_down_and_stops_at_zero() {
        let ctx = Context::default();
        assert_eq!(ctx.remaining(), None);
        let soon = ctx
            .clone()
            .with_deadline(Instant::now() + Duration::from_secs(60));
        let left = soon.remaining().unwrap();
        assert!(left > Duration::from_secs(59) && left <= Duration::from_secs(60));
        let past = Context::default().with_deadline(Instant::now() - Duration::from_secs(1));
        assert_eq!(past.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn get_reads_ascii_metadata_case_insensitively() {
        let mut metadata = MetadataMap::new();
        metadata.insert("x-user", "alice".parse().unwrap());
        let ctx = Context::default().with_metadata(metadata);
        assert_eq!(ctx.get("X-User"), Some("alice"));
        assert_eq!(ctx.get("x-missing"), None);
    }
}
