//! Accepts connections and serves HTTP/1.1 and HTTP/2 (h2c) on one listener, until shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt};
use tower_http::cors::CorsLayer;

use http::header;
use hyper::body::Incoming;

use super::{Body, Router};
use crate::auth::Identity;
use crate::layers::Layers;
use crate::net::Coalesce;

/// How the accept loop behaves.
#[derive(Debug, Clone)]
pub(crate) struct ServeOptions {
    /// How long in-flight calls may take to finish once shutdown begins.
    pub(crate) drain_timeout: Duration,
    /// CORS for browser requests (those with an `Origin` header), if enabled.
    pub(crate) cors: Option<Arc<CorsLayer>>,
    /// Whether HTTP/2 connections gather their writes ([`Coalesce`]).
    pub(crate) gather_writes: bool,
    /// Layers the program wraps around every request, if any.
    pub(crate) layers: Layers<Stack>,
    /// TLS for every connection, if the service has it.
    #[cfg(feature = "auth-tls")]
    pub(crate) tls: Option<crate::auth::ServerTls>,
}

/// The tower service every request to a server goes through, and what
/// [`Service::layer`](crate::Service::layer) wraps. To reject a call in a layer, answer
/// `status.into_http()`.
pub type Stack = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// Serves `listener` until `shutdown` resolves, then lets in-flight calls finish for up to
/// `drain_timeout` before closing what remains. Returns how many connections were cut off.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> usize {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // gRPC is request/response over small frames: Nagle's delay only adds
                    // latency.
                    if let Err(err) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
                    }
                    let connection = Connection {
                        builder: builder.clone(),
                        watcher: graceful.watcher(),
                        peer,
                        router: router.clone(),
                        options: options.clone(),
                    };
                    connections.spawn(connection.serve(stream));
                }
                Err(err) => accept_failed(err).await,
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(
        connections = connections.len(),
        "stopped accepting; sent GOAWAY, waiting for in-flight calls"
    );
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_ok()
    {
        return 0;
    }
    let open = connections.len();
    tracing::warn!(
        connections = open,
        timeout = ?options.drain_timeout,
        "in-flight calls did not finish in time; closing their connections"
    );
    connections.shutdown().await;
    open
}

/// One accepted connection, and what serving it needs.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    watcher: Watcher,
    peer: SocketAddr,
    router: Arc<Router>,
    options: ServeOptions,
}

impl Connection {
    /// Serves the connection, after a TLS handshake if the service has TLS.
    async fn serve(self, stream: TcpStream) {
        #[cfg(feature = "auth-tls")]
        if let Some(tls) = self.options.tls.clone() {
            match tls.accept(stream).await {
                Ok((stream, identity)) => self.watch(stream, identity.map(Arc::new)).await,
                Err(err) => {
                    tracing::debug!(peer = %self.peer, error = %err, "TLS handshake failed");
                }
            }
            return;
        }
        self.watch(stream, None).await;
    }

    /// Serves HTTP on `io`, watched so shutdown can drain it; requests carry the caller's
    /// certificate identity, if any.
    async fn watch<I>(self, io: I, identity: Option<Arc<Identity>>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            builder,
            watcher,
            peer,
            router,
            options,
        } = self;
        let cors = options.cors.clone();
        let respond = move |request| respond(router.clone(), cors.clone(), request, peer);
        // Without layers, requests skip the boxed stack (an allocation and a copy per call).
        let stack = (!options.layers.is_empty()).then(|| {
            let routes = BoxCloneSyncService::new(tower::service_fn(respond.clone()));
            options.layers.apply(routes)
        });
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let mut request = request.map(Body::new);
            if let Some(identity) = &identity {
                request.extensions_mut().insert(Identity::clone(identity));
            }
            let respond = respond.clone();
            let stack = stack.clone();
            // Boxed: hyper moves the future into a task of its own per request, and copying a
            // pointer is cheaper than copying the routing future.
            Box::pin(async move {
                match stack {
                    Some(stack) => stack.oneshot(request).await,
                    None => respond(request).await,
                }
            }) as Pin<Box<dyn Future<Output = _> + Send>>
        });
        let io = match options.gather_writes {
            true => Coalesce::server(io),
            false => Coalesce::pass_through(io),
        };
        let connection = builder
            .serve_connection(TokioIo::new(io), service)
            .into_owned();
        if let Err(err) = watcher.watch(connection).await {
            tracing::debug!(%peer, error = %err, "connection closed with an error");
        }
    }
}

/// Routes one request, through CORS when a browser sent it.
async fn respond(
    router: Arc<Router>,
    cors: Option<Arc<CorsLayer>>,
    request: http::Request<Body>,
    peer: SocketAddr,
) -> Result<http::Response<Body>, Infallible> {
    // Only browsers send Origin; everyone else skips the CORS layer.
    match cors.filter(|_| request.headers().contains_key(header::ORIGIN)) {
        Some(cors) => {
            let route = tower::service_fn(|request| router.route(request, Some(peer)));
            cors.as_ref().layer(route).oneshot(request).await
        }
        None => router.route(request, Some(peer)).await,
    }
}

/// Accept errors are usually temporary (too many open files); back off instead of spinning.
pub(super) async fn accept_failed(err: std::io::Error) {
    tracing::warn!(error = %err, "cannot accept a connection; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
