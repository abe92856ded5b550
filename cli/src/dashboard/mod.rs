//! The web dashboard, `micro dashboard`: the registered services with their nodes, health and
//! endpoints (refreshed as the registry changes), a form to call an endpoint with JSON
//! (streams too), a form to publish to a topic, live request metrics scraped from each node's
//! Prometheus `/metrics`, and a login when it has the services' JWT keys. One embedded page
//! over a small JSON API; every URL the page uses is relative, so the [`router`] works at `/`
//! and nested under a prefix such as `/dashboard`. See `docs/dashboard.md`.

mod auth;
mod call;
mod error;
mod events;
mod exposition;
mod metrics;
mod page;
mod publish;
mod services;
mod stream;

pub use auth::Login;

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::{any, get, post};
use tower::ServiceExt as _;

use crate::Env;

/// What the handlers share: the environment and a client for scraping metrics.
#[derive(Clone)]
pub(crate) struct Dashboard {
    env: Env,
    scraper: metrics::Scraper,
    login: Login,
}

/// The dashboard's routes, without a login: the page at `/` and its JSON API under `api/`.
///
/// | route | answer |
/// |---|---|
/// | `GET /` | the page |
/// | `GET api/session` | whether a login is needed, and who is logged in |
/// | `POST api/login`, `POST api/logout` | `{id, secret}` or `{token}` → the session cookie |
/// | `GET api/services` | the registry asked and the services in it |
/// | `GET api/services/{name}` | a service's nodes with their health, and its endpoints |
/// | `GET api/events` | Server-Sent Events when services register, change or go |
/// | `POST api/call` | `{service, endpoint, request, metadata?, timeout?}` → the reply |
/// | `POST api/stream` | `{service, endpoint, request?, requests?, max?, …}` → JSON lines |
/// | `POST api/publish` | `{topic, message, metadata?}` → `{topic, id}` |
/// | `GET api/metrics/{name}` | requests, errors and mean latency per endpoint |
pub fn router(env: Env) -> Router {
    router_with(env, Login::none())
}

/// [`router`] with a [`Login`]: with JWT keys, every `api/*` route but `session`, `login` and
/// `logout` answers 401 until the page logs in.
pub fn router_with(env: Env, login: Login) -> Router {
    let dashboard = Dashboard {
        env,
        scraper: metrics::scraper(),
        login,
    };
    let guarded = Router::new()
        .route("/api/services", get(services::list))
        .route("/api/services/{name}", get(services::details))
        .route("/api/events", get(events::events))
        .route("/api/call", post(call::call))
        .route("/api/stream", post(stream::stream))
        .route("/api/publish", post(publish::publish))
        .route("/api/metrics/{name}", get(metrics::service))
        .route_layer(middleware::from_fn_with_state(
            dashboard.clone(),
            auth::require,
        ));
    Router::new()
        .route("/", get(page::index))
        .route("/api/session", get(auth::session_info))
        .route("/api/login", post(auth::login))
        .route("/api/logout", post(auth::logout))
        .merge(guarded)
        .with_state(dashboard)
}

/// The dashboard under `prefix` (e.g. `/dashboard`), to merge into another router (the API
/// gateway's): `prefix` redirects to `prefix/`, where the page is, and `prefix/api/…` is its
/// API. (axum's `nest` does not answer `prefix/`, and without the slash the page's relative
/// URLs would miss the prefix.)
pub fn nested(prefix: &'static str, env: Env) -> Router {
    nested_with(prefix, env, Login::none())
}

/// [`nested`] with a [`Login`].
pub fn nested_with(prefix: &'static str, env: Env, login: Login) -> Router {
    let dashboard = router_with(env, login);
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

/// Serves the dashboard as `micro dashboard`'s options say (`--address`: `host:port`, or
/// `:port` for every interface; the auth keys) until Ctrl-C or SIGTERM.
pub async fn serve(env: Env, args: &crate::cli::DashboardArgs) -> anyhow::Result<()> {
    let login = Login::from_keys(&args.keys)?;
    let listener = crate::listen::bind(&args.address).await?;
    let bound = listener.local_addr()?;
    let access = if login.required() {
        "login with a JWT account"
    } else {
        "no login: anyone who reaches it can call every service"
    };
    eprintln!("micro dashboard listening on http://{bound}/ ({access})");
    let (router, stop) = (router_with(env, login), crate::listen::shutdown_signal());
    crate::listen::serve(listener, router, stop, crate::listen::DRAIN_TIMEOUT).await;
    Ok(())
}

#[cfg(test)]
mod login_tests;
#[cfg(test)]
mod tests;
