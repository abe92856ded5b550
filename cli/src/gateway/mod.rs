//! The API gateway: HTTP/JSON to every registered service, with no per-service configuration.
//!
//! Methods are found by the descriptors each service serves over gRPC reflection (cached in
//! the [`Catalog`](micro::dynamic::Catalog)); requests are read from JSON into protobuf and
//! called through the client stack, so they are load balanced and retried on another node.
//!
//! - `POST /<service>/<Service.Method>` (or `/<service>/<Service>/<Method>`), go-micro v6's
//!   `POST /api/<service>/<Service.Method>` and `/api/<service>/<Service>/<Method>`, and
//!   go-micro v4's `POST /rpc` with `{"service","endpoint","request"}`.
//! - The google.api.http rules of any registered service (`GET /v1/greet/{name}`), learnt from
//!   the registry as services come and go.
//! - Streams: server-streaming methods answer with Server-Sent Events (also to `GET` with the
//!   request in the query string, for `EventSource`); a WebSocket upgrade on a method's path
//!   carries calls of every kind, one JSON text frame per message.
//!
//! Errors are go-micro error JSON with the matching HTTP status. See `docs/gateway.md`.
//! `GET /openapi.json` describes all of it as OpenAPI 3.1 (`docs/openapi.md`).
//!
//! ```no_run
//! # async fn demo(env: micro_cli::Env) -> std::io::Result<()> {
//! let gateway = micro_cli::gateway::Gateway::new(env);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! gateway.run(listener, std::future::pending()).await
//! # }
//! ```

mod cors;
mod error;
mod handler;
mod headers;
mod openapi;
mod reply;
mod route;
mod sse;
mod streams;
mod table;
mod undescribed;
mod websocket;

pub use cors::Origins;
pub use error::GatewayError;
pub use handler::MAX_BODY;
pub use route::{Target, resolve};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use http::HeaderMap;
use micro::dynamic::{DynamicMessage, Method};
use micro::http_rule::ResponseField;
use micro::registry::{Cache, ErrorKind};
use micro::{Code, JsonOptions, Status};
use tokio::net::TcpListener;

use crate::Env;
use crate::dashboard::Login;
use error::GATEWAY_ID;
use reply::ReplyJson;
use table::RouteTable;
use undescribed::Undescribed;

/// The API gateway over the services of one registry.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    login: Login,
    /// How long a stop waits for the requests under way.
    drain_timeout: Duration,
}

/// How long a stop waits for the requests under way by default: long enough for calls, while
/// an event stream left open does not keep the gateway up.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = crate::listen::DRAIN_TIMEOUT;

/// What every request uses.
struct Shared {
    env: Env,
    routes: RouteTable,
    json: JsonOptions,
    /// Services called without descriptors (they serve no reflection).
    undescribed: Undescribed,
    /// Browser origins besides the gateway's own that may call it.
    origins: Origins,
}

impl Shared {
    fn new(env: Env, origins: Origins) -> Shared {
        Shared {
            routes: RouteTable::new(env.registry.clone(), env.catalog.clone()),
            undescribed: Undescribed::new(Cache::new(env.registry.clone())),
            env,
            json: JsonOptions::default(),
            origins,
        }
    }
}

impl Gateway {
    /// A gateway to the services of `env`'s registry, called with its client.
    pub fn new(env: Env) -> Gateway {
        Gateway {
            shared: Arc::new(Shared::new(env, Origins::Own)),
            login: Login::none(),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        }
    }

    /// A stop waits at most `timeout` for the requests under way, then closes the connections
    /// still busy (event streams left open). Default [`DEFAULT_DRAIN_TIMEOUT`].
    pub fn with_drain_timeout(mut self, timeout: Duration) -> Gateway {
        self.drain_timeout = timeout;
        self
    }

    /// Pages of `origins` may call the gateway too: CORS headers for `fetch` and
    /// `EventSource`, and WebSockets. Set it before serving.
    pub fn with_origins(mut self, origins: Origins) -> Gateway {
        self.shared = Arc::new(Shared::new(self.shared.env.clone(), origins));
        self
    }

    /// The dashboard at `/dashboard/` asks for `login` (a JWT account) before anything else.
    pub fn with_login(mut self, login: Login) -> Gateway {
        self.login = login;
        self
    }

    /// The gateway's routes: the dashboard at `/dashboard/`, the OpenAPI document at
    /// `/openapi.json`, and every other path answered by one handler.
    pub fn router(&self) -> Router {
        let gateway = Router::new()
            .route("/openapi.json", axum::routing::get(openapi::serve))
            .fallback(handler::handle)
            .with_state(self.shared.clone());
        let env = self.shared.env.clone();
        let router =
            crate::dashboard::nested_with("/dashboard", env, self.login.clone()).merge(gateway);
        match self.shared.origins.layer() {
            Some(cors) => router.layer(cors),
            None => router.layer(axum::middleware::from_fn(cors::refuse_preflight)),
        }
    }

    /// Serves on `listener` until `shutdown` completes, then finishes the requests under way,
    /// for at most the drain timeout: connections still busy then are closed.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::listen::serve(listener, self.router(), shutdown, self.drain_timeout).await;
        Ok(())
    }
}

impl Shared {
    /// The method `endpoint` of `service`, from its (cached) descriptors.
    async fn method(&self, service: &str, endpoint: &str) -> Result<Method, GatewayError> {
        if self.undescribed.known(service) {
            return Err(GatewayError::new(
                http::StatusCode::NOT_IMPLEMENTED,
                format!("`{service}` serves no gRPC reflection to describe `{endpoint}`"),
            ));
        }
        let catalog = &self.env.catalog;
        if let Err(status) = catalog.descriptors(service).await {
            self.undescribed.note(service, &status);
            return Err(self.unreachable(service, &status).await);
        }
        match catalog.method(service, endpoint).await {
            Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                self.loosely_named(service, endpoint, &status).await
            }
            found => found.map_err(GatewayError::from),
        }
    }

    /// The method of `service` that `endpoint` names in another case, or by its name alone
    /// (see [`crate::endpoint_name::find`]); else why not, from `unfound` (finding it exactly).
    async fn loosely_named(
        &self,
        service: &str,
        endpoint: &str,
        unfound: &Status,
    ) -> Result<Method, GatewayError> {
        let descriptors = self.env.catalog.descriptors(service).await?;
        let names: Vec<&str> = descriptors
            .methods()
            .map(|method| method.endpoint())
            .collect();
        match crate::endpoint_name::find(service, &names, endpoint) {
            Some(name) => descriptors.method(name),
            None if unfound.code() == Code::InvalidArgument => Err(Status::not_found(format!(
                "`{service}` has no endpoint `{endpoint}`: it has {}",
                names.join(", ")
            ))),
            None => Err(unfound.clone()),
        }
        .map_err(GatewayError::from)
    }

    /// The service and endpoint `path` names in one of the path styles ([`route`]). A path
    /// naming a method alone (`/helloworld/greeting`) has the shape of other paths
    /// (`/v1/things`), so it counts only when its service is registered.
    async fn path_target(&self, path: &str) -> Option<Target> {
        let target = route::resolve(path)?;
        if target.is_method_alone() && !self.routes.lists(&target.service).await {
            return None;
        }
        Some(target)
    }

    /// Whether `target` names a method of descriptors already fetched.
    fn knows(&self, target: &Target) -> bool {
        self.env
            .catalog
            .cached_method(&target.service, &target.endpoint)
            .is_some()
    }

    /// Why `service`'s descriptors could not be fetched: 404 if it is not registered.
    async fn unreachable(&self, service: &str, status: &Status) -> GatewayError {
        let maybe_absent = matches!(status.code(), Code::NotFound | Code::Unavailable);
        if maybe_absent && !self.registered(service).await {
            return GatewayError::not_found(format!(
                "service `{service}` is not registered (or has no nodes); {}",
                self.env.not_found_hint()
            ));
        }
        GatewayError::from_status(status, GATEWAY_ID)
    }

    /// Whether the registry lists a node of `service`; true when it cannot say.
    async fn registered(&self, service: &str) -> bool {
        match self.env.registry.get_service(service).await {
            Ok(versions) => versions.iter().any(|version| !version.nodes.is_empty()),
            Err(err) => err.kind() != ErrorKind::NotFound,
        }
    }

    /// Calls `method` of `service` with the headers the gateway passes through.
    async fn call(
        &self,
        service: &str,
        method: &Method,
        request: DynamicMessage,
        headers: &HeaderMap,
    ) -> Result<DynamicMessage, GatewayError> {
        let call = self.env.client.dynamic_unary(service, method, request);
        headers::forward(&self.env, headers, call)
            .await
            .map_err(|status| GatewayError::from_status(&status, service))
    }

    /// Replies written whole.
    fn replies(&self) -> ReplyJson {
        ReplyJson::new(self.json.clone(), None)
    }

    /// Replies of `route`'s rule: only its `response_body` field of each, when it names one
    /// (looked up once per call, not per reply).
    fn rule_replies(&self, route: &table::RestRoute) -> ReplyJson {
        let output = route.method.output();
        let field = (route.binding.response_body.as_deref())
            .and_then(|name| ResponseField::new(&output, name, self.json.proto_field_names));
        ReplyJson::new(self.json.clone(), field)
    }
}

/// Serves the gateway on `address` (`host:port` or `:port`) until Ctrl-C or SIGTERM.
pub async fn serve(env: Env, args: &crate::cli::ServeArgs) -> anyhow::Result<()> {
    let login = Login::from_keys(&args.keys)?;
    let origins = Origins::parse(&args.cors_origins)?;
    let listener = crate::listen::bind(&args.address).await?;
    let local = listener.local_addr()?;
    let registry = env.registry_label.clone();
    tracing::info!("gateway listening on {local} (registry {registry})");
    eprintln!(
        "micro gateway listening on http://{local} (registry {registry}); dashboard at http://{local}/dashboard/"
    );
    Gateway::new(env)
        .with_login(login)
        .with_origins(origins)
        .with_drain_timeout(args.shutdown_timeout)
        .run(listener, crate::listen::shutdown_signal())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use clap::Parser as _;
    use http::{Request, StatusCode};
    use tower::ServiceExt as _;

    use super::*;
    use crate::Cli;

    async fn status(gateway: &Gateway, path: &str) -> StatusCode {
        let request = Request::get(path).body(Body::empty()).unwrap();
        gateway.router().oneshot(request).await.unwrap().status()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn the_nested_dashboard_asks_for_the_login_the_gateway_was_given() {
        let cli = Cli::parse_from(["micro", "--registry", "memory", "services"]);
        let env = Env::new(&cli.global).unwrap();
        let open = Gateway::new(env.clone());
        assert_eq!(
            status(&open, "/dashboard/api/services").await,
            StatusCode::OK
        );

        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_err()
        {
            micro_test_support::require_or_skip("openssl makes the test's RSA keys");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (public, _) = micro_test_support::rsa_key_pair(dir.path());
        let login = Login::jwt("micro", &public, None).unwrap();
        let guarded = Gateway::new(env).with_login(login);
        let api = "/dashboard/api/services";
        assert_eq!(status(&guarded, api).await, StatusCode::UNAUTHORIZED);
        assert_eq!(status(&guarded, "/openapi.json").await, StatusCode::OK);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn pages_of_the_origins_it_is_given_may_call_the_gateway() {
        let cli = Cli::parse_from(["micro", "--registry", "memory", "services"]);
        let env = Env::new(&cli.global).unwrap();
        let preflight = |origin: &str| {
            Request::options("/helloworld/Helloworld.Greeting")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type, authorization",
                )
                .body(Body::empty())
                .unwrap()
        };
        let allowed_origin = |gateway: &Gateway, origin: &str| {
            let request = preflight(origin);
            let router = gateway.router();
            async move {
                let response = router.oneshot(request).await.unwrap();
                let headers = response.headers();
                let allowed = headers.get("access-control-allow-origin").cloned();
                let methods = headers.get("access-control-allow-methods").cloned();
                (allowed, methods)
            }
        };

        let own = Gateway::new(env.clone());
        assert_eq!(
            allowed_origin(&own, "https://app.example").await,
            (None, None)
        );
        // Refused with the way to allow it, not answered as a request with no route.
        let refused = own.router().oneshot(preflight("https://app.example"));
        let refused = refused.await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(refused.into_body(), 4096)
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("--cors-origin https://app.example"), "{body}");

        let origins = Origins::List(vec!["https://app.example".into()]);
        let open = Gateway::new(env).with_origins(origins);
        let (allowed, methods) = allowed_origin(&open, "https://app.example").await;
        assert_eq!(allowed.unwrap(), "https://app.example");
        let methods = methods.unwrap();
        assert!(methods.to_str().unwrap().contains("DELETE"), "{methods:?}");
        let (other, _) = allowed_origin(&open, "https://evil.example").await;
        assert_eq!(other, None);
    }
}
