//! What the gateway and the dashboard share as servers: where to listen and when to stop.

use anyhow::Context as _;
use tokio::net::TcpListener;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_only_addresses_listen_everywhere() {
        assert_eq!(listen_address(":8080"), "0.0.0.0:8080");
        assert_eq!(listen_address("127.0.0.1:9"), "127.0.0.1:9");
    }
}
