//! Shared by the runtime's integration tests: the golden fixtures' generated code (so these
//! tests also prove the snapshots compile), a `Kitchen` handler, and helpers.

#![allow(dead_code, unreachable_pub)]

pub mod events;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use micro::{Context, RunningService, Sender, Service, Status, Streaming};

#[allow(missing_docs, clippy::all)]
mod generated {
    include!("../../../protoc-gen-micro/tests/snapshots/_includes.rs");
}

pub use generated::fixtures::{kitchen, types};

use kitchen::{GetRequest, KitchenHandler, KitchenServer, ListRequest, PutReply};
use types::Item;

/// What the test kitchen has seen, for assertions about the server side.
#[derive(Default)]
pub struct Counters {
    /// Handlers that started.
    pub started: AtomicUsize,
    /// Handlers dropped before they finished (cancelled).
    pub cancelled: AtomicUsize,
}

/// A handler whose behaviour the request picks, by item id.
#[derive(Clone, Default)]
pub struct TestKitchen {
    pub counters: Arc<Counters>,
}

/// Counts a handler as cancelled if it is dropped before `finish`.
struct CancelGuard<'a> {
    counters: &'a Counters,
    finished: bool,
}

impl<'a> CancelGuard<'a> {
    fn new(counters: &'a Counters) -> Self {
        counters.started.fetch_add(1, Ordering::SeqCst);
        CancelGuard {
            counters,
            finished: false,
        }
    }
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.counters.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl KitchenHandler for TestKitchen {
    /// `id` picks the behaviour: `missing` → NOT_FOUND; `unavailable` → UNAVAILABLE; `slow` → waits 10 s;
    /// `sleep:<ms>` → waits that long; `deadline` → the remaining time in `note`; `big:<n>` → an item with an n-byte note; `meta:<key>` →
    /// the metadata value in `note`; `peer` → the peer address; `account` → the caller's account
    /// id and scopes; `identity` → the caller's certificate identity; `trace` → "<trace id> <span id> <parent
    /// id or ->"; `relay:<addr>` → this call's span id, then `trace` as the kitchen at addr
    /// answers it; `panic` → panics; anything else is echoed.
    async fn get(&self, ctx: Context, request: GetRequest) -> Result<Item, Status> {
        let guard = CancelGuard::new(&self.counters);
        let id = request.id;
        let note = match id.as_str() {
            "missing" => return Err(Status::not_found("no item `missing`")),
            "panic" => panic!("the kitchen is on fire"),
            "unavailable" => return Err(Status::unavailable("this node is draining")),
            "go-micro" => {
                return Err(micro::errors::Error::not_found("kitchen", "no item").into());
            }
            "slow" => {
                tokio::time::sleep(Duration::from_secs(10)).await;
                None
            }
            "deadline" => ctx.remaining().map(|left| left.as_millis().to_string()),
            "peer" => ctx.peer_addr().map(|addr| addr.to_string()),
            "endpoint" => Some(format!("{} {}", ctx.service(), ctx.endpoint())),
            "identity" => ctx
                .extensions()
                .get::<micro::auth::Identity>()
                .map(|identity| identity.uri()),
            "account" => ctx
                .account()
                .map(|account| format!("{} {}", account.id, account.scopes.join(","))),
            "trace" => ctx.trace().map(|trace| {
                let parent = trace.parent_id().map(|id| id.to_string());
                let parent = parent.unwrap_or_else(|| "-".into());
                format!("{} {} {parent}", trace.trace_id(), trace.span_id())
            }),
            _ => match id.split_once(':') {
                Some(("big", size)) => Some("x".repeat(size.parse().unwrap_or(0))),
                Some(("sleep", ms)) => {
                    tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
                    None
                }
                Some(("meta", key)) => ctx.get(key).map(str::to_owned),
                Some(("relay", addr)) => {
                    let client = micro::Client::connect(addr)
                        .map_err(|err| Status::internal(err.to_string()))?;
                    let reply = kitchen::KitchenClient::new(client)
                        .get(GetRequest { id: "trace".into() })
                        .await?;
                    let mine = ctx.trace().map(|trace| trace.span_id().to_string());
                    Some(format!(
                        "{} {}",
                        mine.unwrap_or_default(),
                        reply.note.unwrap_or_default()
                    ))
                }
                _ => None,
            },
        };
        guard.finish();
        Ok(Item {
            id,
            note,
            ..Item::default()
        })
    }

    /// Streams `limit` items (default 3), numbered; `kind` 2 (FILM) fails after the first; a
    /// limit of 13 panics after the first.
    async fn list(
        &self,
        _ctx: Context,
        request: ListRequest,
        responses: Sender<Item>,
    ) -> Result<(), Status> {
        let guard = CancelGuard::new(&self.counters);
        for n in 0..request.limit.unwrap_or(3) {
            responses
                .send(Item {
                    id: n.to_string(),
                    ..Item::default()
                })
                .await?;
            if request.kind == types::Kind::Film as i32 {
                return Err(Status::aborted("films are out of stock"));
            }
            if request.limit == Some(13) {
                panic!("unlucky number");
            }
        }
        guard.finish();
        Ok(())
    }

    async fn put(&self, _ctx: Context, mut items: Streaming<Item>) -> Result<PutReply, Status> {
        let mut stored = 0;
        while items.recv().await?.is_some() {
            stored += 1;
        }
        Ok(PutReply { stored })
    }

    async fn chat(
        &self,
        _ctx: Context,
        mut items: Streaming<Item>,
        responses: Sender<Item>,
    ) -> Result<(), Status> {
        while let Some(item) = items.recv().await? {
            responses
                .send(Item {
                    id: format!("re: {}", item.id),
                    ..item
                })
                .await?;
        }
        Ok(())
    }

    async fn echo(&self, _ctx: Context, item: Item) -> Result<Item, Status> {
        Ok(item)
    }

    async fn r#type(&self, _ctx: Context, _request: ()) -> Result<(), Status> {
        Ok(())
    }

    async fn new(&self, _ctx: Context, _request: ()) -> Result<(), Status> {
        Ok(())
    }

    async fn old(&self, _ctx: Context, _request: ()) -> Result<(), Status> {
        Ok(())
    }
}

/// A pantry that counts nothing, to serve two services on one port.
pub struct TestPantry;

impl kitchen::PantryHandler for TestPantry {
    async fn count(&self, _ctx: Context, _request: ()) -> Result<PutReply, Status> {
        Ok(PutReply { stored: 42 })
    }
}

/// A fresh in-process registry, so tests never touch mDNS on the real network.
pub fn memory_registry() -> std::sync::Arc<dyn micro::registry::Registry> {
    std::sync::Arc::new(micro::registry::MemoryRegistry::new())
}

/// A kitchen service on a free loopback port.
pub fn kitchen_service(handler: TestKitchen) -> Service {
    Service::new("kitchen")
        .address("127.0.0.1:0")
        .registry(memory_registry())
        .handle(KitchenServer::new(handler))
        .handle(kitchen::PantryServer::new(TestPantry))
}

/// Starts the test kitchen and returns it with a client of it.
pub async fn start_kitchen() -> (RunningService, kitchen::KitchenClient, TestKitchen) {
    let handler = TestKitchen::default();
    let running = kitchen_service(handler.clone())
        .start()
        .await
        .expect("kitchen starts");
    let client = micro::Client::connect(&running.local_addr().to_string()).expect("client");
    (running, kitchen::KitchenClient::new(client), handler)
}

/// A raw HTTP response: status, headers and the whole body.
pub struct RawResponse {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub trailers: Option<http::HeaderMap>,
}

impl RawResponse {
    /// `grpc-status` from the trailers, or from the headers of a trailers-only response.
    pub fn grpc_status(&self) -> Option<i32> {
        self.grpc_header("grpc-status")
            .and_then(|value| value.parse().ok())
    }

    /// `grpc-message`, percent-decoded.
    pub fn grpc_message(&self) -> String {
        let raw = self.grpc_header("grpc-message").unwrap_or_default();
        percent_encoding::percent_decode_str(&raw)
            .decode_utf8_lossy()
            .into_owned()
    }

    fn grpc_header(&self, name: &str) -> Option<String> {
        self.trailers
            .as_ref()
            .and_then(|trailers| trailers.get(name))
            .or_else(|| self.headers.get(name))
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    }
}

/// Sends one raw request over HTTP/2 (h2c) or HTTP/1.1.
pub async fn send_raw(request: http::Request<Full<Bytes>>, http2: bool) -> RawResponse {
    let client = HyperClient::builder(TokioExecutor::new())
        .http2_only(http2)
        .build_http();
    let response = client.request(request).await.expect("request is answered");
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.expect("body is read");
    let trailers = collected.trailers().cloned();
    RawResponse {
        status: parts.status,
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    }
}

/// A gRPC request with one length-prefixed message.
pub fn grpc_request(
    addr: std::net::SocketAddr,
    path: &str,
    message: &[u8],
) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(frame(message))))
        .expect("valid request")
}

/// Prefixes a message with gRPC's 5-byte header.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut framed = vec![0];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    framed
}

/// A POST of `body` to `path` with these headers, over HTTP/2 or HTTP/1.1.
pub async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
    http2: bool,
) -> RawResponse {
    let mut request = http::Request::post(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send_raw(
        request.body(Full::new(body.into())).expect("valid request"),
        http2,
    )
    .await
}

impl RawResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "body is not JSON ({err}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}
