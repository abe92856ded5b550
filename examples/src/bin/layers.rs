//! Wrappers as tower layers, on both sides: the server logs every request and rejects those
//! without an API key; the client adds the key and logs each call's endpoint and latency. Both
//! layers `await` (the server one consults a "key store").
//!
//! ```sh
//! cargo run -p examples --bin layers
//! ```
//!
//! It starts helloworld on a free port (in-memory registry), calls it through the registry
//! with and without the client layer, prints both outcomes and exits.

use std::sync::Arc;
use std::time::Instant;

use examples::helloworld::{
    HelloworldClient, HelloworldHandler, HelloworldServer, Request, Response,
};
use micro::client::{CallTarget, Transport};
use micro::server::{Body, Stack};
use micro::{Client, Context, Service, Status};
use tower::ServiceExt;
use tower::layer::layer_fn;

struct Greeter;

impl HelloworldHandler for Greeter {
    async fn greeting(&self, _ctx: Context, request: Request) -> Result<Response, Status> {
        Ok(Response {
            message: format!("Hello {}", request.name),
        })
    }
}

/// Server side: every request needs a known `x-api-key`.
fn require_api_key(next: Stack) -> Stack {
    Stack::new(tower::service_fn(move |request: http::Request<Body>| {
        let next = next.clone();
        async move {
            let key = request.headers().get("x-api-key").cloned();
            let path = request.uri().path().to_owned();
            if !key_is_valid(key.as_ref()).await {
                eprintln!("server: rejected {path}: no valid x-api-key");
                return Ok(Status::unauthenticated("send a valid x-api-key").into_http());
            }
            eprintln!("server: {path}");
            next.oneshot(request).await
        }
    }))
}

/// A stand-in for a lookup that awaits (a database, an auth service).
async fn key_is_valid(key: Option<&http::HeaderValue>) -> bool {
    tokio::task::yield_now().await;
    key.is_some_and(|key| key == "demo-key")
}

/// Client side: adds the key and logs each call's endpoint and latency.
fn with_api_key(next: Transport) -> Transport {
    Transport::new(tower::service_fn(
        move |mut request: http::Request<Body>| {
            let next = next.clone();
            async move {
                let endpoint = request
                    .extensions()
                    .get::<CallTarget>()
                    .map(|t| t.method.endpoint);
                request
                    .headers_mut()
                    .insert("x-api-key", http::HeaderValue::from_static("demo-key"));
                let started = Instant::now();
                let response = next.oneshot(request).await;
                eprintln!(
                    "client: {} took {:?}",
                    endpoint.unwrap_or("?"),
                    started.elapsed()
                );
                response
            }
        },
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let registry: Arc<dyn micro::registry::Registry> =
        Arc::new(micro::registry::MemoryRegistry::new());
    let service = Service::new("helloworld")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .layer(layer_fn(require_api_key))
        .handle(HelloworldServer::new(Greeter))
        .start()
        .await?;

    let keyed = Client::builder()
        .registry(registry.clone())
        .layer(layer_fn(with_api_key))
        .build()?;
    let reply = HelloworldClient::new(keyed)
        .greeting(Request {
            name: "alice".into(),
        })
        .await?;
    println!("with the key: {}", reply.message);

    let plain = HelloworldClient::new(Client::with_registry(registry)?);
    match plain.greeting(Request { name: "bob".into() }).await {
        Ok(reply) => println!("without the key: {}", reply.message),
        Err(status) => println!("without the key: {:?}: {}", status.code(), status.message()),
    }
    service.stop().await?;
    Ok(())
}
