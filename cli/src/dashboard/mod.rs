//! The web dashboard, `micro dashboard`: the registered services with their nodes, health and
//! endpoints, a form to call an endpoint with JSON, and live request metrics scraped from each
//! node's Prometheus `/metrics`. One embedded page over a small JSON API; every URL the page
//! uses is relative, so the [`router`] works at `/` and nested under a prefix such as
//! `/dashboard`. See `docs/dashboard.md`.

mod call;
mod error;
mod exposition;
mod metrics;
mod page;
mod services;

use anyhow::Context as _;
use axum::Router;
use axum::routing::{get, post};

use crate::Env;

/// What the handlers share: the environment and a client for scraping metrics.
#[derive(Clone)]
pub(crate) struct Dashboard {
    env: Env,
    scraper: metrics::Scraper,
}

/// The dashboard's routes: the page at `/` and its JSON API under `api/`.
///
/// | route | answer |
/// |---|---|
/// | `GET /` | the page |
/// | `GET api/services` | the registry asked and the services in it |
/// | `GET api/services/{name}` | a service's nodes with their health, and its endpoints |
/// | `POST api/call` | `{service, endpoint, request, metadata?, timeout?}` → the reply |
/// | `GET api/metrics/{name}` | requests, errors and mean latency per endpoint |
pub fn router(env: Env) -> Router {
    let dashboard = Dashboard {
        env,
        scraper: metrics::scraper(),
    };
    Router::new()
        .route("/", get(page::index))
        .route("/api/services", get(services::list))
        .route("/api/services/{name}", get(services::details))
        .route("/api/call", post(call::call))
        .route("/api/metrics/{name}", get(metrics::service))
        .with_state(dashboard)
}

/// Serves the dashboard on `address` (`host:port`, or `:port` for every interface) until
/// Ctrl-C.
pub async fn serve(env: Env, address: &str) -> anyhow::Result<()> {
    let address = listen_address(address);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| {
            format!("cannot listen on {address}; pass a free one with --address HOST:PORT")
        })?;
    let bound = listener.local_addr()?;
    eprintln!("micro dashboard listening on http://{bound}/");
    axum::serve(listener, router(env))
        .with_graceful_shutdown(interrupted())
        .await
        .context("the dashboard's server failed")
}

/// `:8082` (go-micro's form) means every interface.
fn listen_address(address: &str) -> String {
    match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.to_owned(),
    }
}

async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        // Without a signal handler, run until killed.
        std::future::pending::<()>().await;
    }
    eprintln!("micro dashboard: interrupted, finishing requests in flight");
}

#[cfg(test)]
mod tests;
