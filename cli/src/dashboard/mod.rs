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
use axum::extract::Request;
use axum::http::Uri;
use axum::response::Redirect;
use axum::routing::{any, get, post};
use tower::ServiceExt as _;

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

/// The dashboard under `prefix` (e.g. `/dashboard`), to merge into another router (the API
/// gateway's): `prefix` redirects to `prefix/`, where the page is, and `prefix/api/…` is its
/// API. (axum's `nest` does not answer `prefix/`, and without the slash the page's relative
/// URLs would miss the prefix.)
pub fn nested(prefix: &'static str, env: Env) -> Router {
    let dashboard = router(env);
    // A fresh request, not the outer one: the outer route's path parameters travel in the
    // request's extensions and would confuse the dashboard's own `Path` extractors.
    let strip = move |request: Request| {
        let dashboard = dashboard.clone();
        async move {
            let (parts, body) = request.into_parts();
            let inner = &parts.uri.path()[prefix.len()..];
            let query = parts.uri.query().map(|query| format!("?{query}"));
            let uri = format!("{inner}{}", query.unwrap_or_default());
            let mut inner = Request::new(body);
            *inner.method_mut() = parts.method;
            *inner.uri_mut() = uri.parse().unwrap_or_else(|_| Uri::from_static("/"));
            *inner.version_mut() = parts.version;
            *inner.headers_mut() = parts.headers;
            dashboard.oneshot(inner).await
        }
    };
    Router::new()
        .route(
            prefix,
            get(move || async move { Redirect::permanent(&format!("{prefix}/")) }),
        )
        .route(&format!("{prefix}/"), any(strip.clone()))
        .route(&format!("{prefix}/{{*rest}}"), any(strip))
}

/// Serves the dashboard on `address` (`host:port`, or `:port` for every interface) until
/// Ctrl-C or SIGTERM.
pub async fn serve(env: Env, address: &str) -> anyhow::Result<()> {
    let listener = crate::listen::bind(address).await?;
    let bound = listener.local_addr()?;
    eprintln!("micro dashboard listening on http://{bound}/");
    axum::serve(listener, router(env))
        .with_graceful_shutdown(crate::listen::shutdown_signal())
        .await
        .context("the dashboard's server failed")
}

#[cfg(test)]
mod tests;
