//! The probe port (`--health-address`): the health probes and `/metrics` over plain HTTP, for
//! kubelet and Prometheus when the service's own port requires client certificates.

use std::future::Future;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::Router;
use super::serve::accept_failed;

/// Serves the probes of `router` on `listener` until `shutdown` resolves, then closes the
/// open connections (a probe is one short request; there is nothing to drain).
pub(crate) async fn serve_probes(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(builder.clone(), stream, peer, router.clone()));
                }
                Err(err) => accept_failed(err).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// Serves one probe connection: HTTP/1.1 or h2c, probes and metrics only.
async fn serve_connection(
    builder: auto::Builder<TokioExecutor>,
    stream: TcpStream,
    peer: SocketAddr,
    router: Arc<Router>,
) {
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let router = router.clone();
        async move {
            let (method, path) = (request.method(), request.uri().path());
            Ok::<_, std::convert::Infallible>(router.probe_only(method, path).await)
        }
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    if let Err(err) = connection.await {
        tracing::debug!(%peer, error = %err, "probe connection closed with an error");
    }
}
