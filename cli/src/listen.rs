//! What the gateway, the dashboard and MCP over HTTP share as servers: where to listen, how to
//! serve, and when to stop.

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Listens on `address`: `host:port`, or go-micro's `:port` for every interface.
pub(crate) async fn bind(address: &str) -> anyhow::Result<TcpListener> {
    let address = listen_address(address);
    TcpListener::bind(&address).await.with_context(|| {
        format!("cannot listen on {address}; pick a free one with --address HOST:PORT")
    })
}

fn listen_address(address: &str) -> String {
    match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.to_owned(),
    }
}

/// Completes on Ctrl-C or SIGTERM, so the server finishes the requests in flight and exits.
pub(crate) async fn shutdown_signal() {
    signalled().await;
    eprintln!("micro: shutting down, finishing requests in flight");
}

/// Completes on Ctrl-C or SIGTERM (never, where no handler can be installed).
pub(crate) async fn signalled() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // Without a signal handler, run until killed.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// How long a stop waits for the requests under way by default: long enough for calls, while
/// an event stream left open does not keep the server up.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests under way
/// finish for up to `drain` and closes the connections still busy (an event stream left open,
/// say). A WebSocket runs on its own once upgraded and is not waited for.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // WebSockets over HTTP/2 (RFC 8441), as `axum::serve` allows them.
    builder.http2().enable_connect_protocol();
    let service = TowerToHyperService::new(router);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let io = TokioIo::new(stream);
                    let connection = builder.serve_connection_with_upgrades(io, service.clone());
                    let watched = graceful.watch(connection.into_owned());
                    connections.spawn(async move { drop(watched.await) });
                }
                // Out of file descriptors, say: wait rather than spin.
                Err(err) => {
                    tracing::warn!("accepting a connection failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still busy {drain:?} after the stop (event streams?): {}; closing them",
            connections.len()
        );
        connections.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_only_addresses_listen_everywhere() {
        assert_eq!(listen_address(":8080"), "0.0.0.0:8080");
        assert_eq!(listen_address("127.0.0.1:9"), "127.0.0.1:9");
    }
}
