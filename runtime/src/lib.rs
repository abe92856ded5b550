//! # micro
//!
//! go-micro's framework for distributed systems, in Rust. Write a `.proto`, generate a handler
//! trait with `micro-build` or `protoc-gen-micro`, implement it, and run a [`Service`] that any
//! gRPC client can call.
//!
//! - **One port** serves gRPC (unary and all three streaming kinds), gRPC server reflection
//!   (v1 and v1alpha) and `grpc.health.v1`.
//! - **Handlers are plain `async fn`s** taking a [`Context`] (metadata, deadline, peer) and the
//!   request; streams arrive as [`Streaming`] and leave through a [`Sender`].
//! - **Or no `.proto` at all** ([`mod@handler`]): `#[micro::handler]` on an `impl` block of
//!   serde types, served on every protocol, called with [`Client::call`].
//! - **Generated clients** run on a tower stack ([`Client`]) with per-call deadlines
//!   and metadata.
//! - **Auth** ([`auth`]): JWT accounts and go-micro's rules, checked on every protocol.
//! - **Pub/sub** ([`broker`]) with typed subscribers ([`Service::subscribe`]) and **event
//!   streaming** ([`events`]): consumer groups, offsets, ack/nack, at-least-once delivery.
//! - **Data**: a key-value [`store`] (file, Postgres, memory), dynamic [`config`] with hot
//!   reload, and [`sync`]: distributed locks and leader election.
//! - **go-micro's conventions**: flags and `MICRO_*` variables ([`Flags`]), endpoint names
//!   (`Helloworld.Greeting`), and its error JSON ([`errors`]).
//! - **Observability**: Prometheus [`metrics`] at `GET /metrics` on the same port, and W3C
//!   [`trace`] context (`traceparent`) carried through calls, publishes and events; every call
//!   is a `tracing` span with its trace id.
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `auth-jwt` | yes | [`auth::JwtAuth`]: RS256 tokens, `--auth jwt` |
//! | `otel` | yes | OpenTelemetry spans (server calls, client attempts, broker messages, events) and RPC metrics sent with OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set |
//! | `registry-etcd` | no | `registry::EtcdRegistry`: `--registry etcd` (building it needs `protoc`) |
//! | `broker-nats` | no | `broker::NatsBroker`: `--broker nats` |
//! | `events-nats` | no | `events::JetStream`: `--events nats` (NATS JetStream) |
//! | `events-redis` | no | `events::RedisStream`: `--events redis` (Redis streams) |
//! | `store-postgres` | no | `store::PostgresStore`: `--store postgres` (PostgreSQL, CockroachDB) |
//! | `sync-etcd` | no | `sync::EtcdSync`: locks and leader election in etcd |
//! | `config-etcd` | no | `config::Etcd`: config from etcd keys under `/micro/config/` (building it needs `protoc`) |
//! | `conformance` | no | `registry::conformance`, `auth::conformance` and the other suites every backend must pass (test kits that panic) |
//!
//! ```ignore
//! // build.rs: micro_build::compile_protos(&["proto/helloworld.proto"], &["proto"])?;
//! mod pb {
//!     micro::include_proto!("helloworld");
//! }
//! use pb::{HelloworldHandler, HelloworldServer, Request, Response};
//!
//! struct Greeter;
//!
//! impl HelloworldHandler for Greeter {
//!     async fn greeting(&self, _ctx: micro::Context, req: Request) -> Result<Response, micro::Status> {
//!         Ok(Response { message: format!("Hello {}", req.name) })
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), micro::service::Error> {
//!     micro::Service::new("helloworld")
//!         .handle(HelloworldServer::new(Greeter))
//!         .run()
//!         .await
//! }
//! ```

pub mod auth;
pub mod broker;
pub mod client;
pub mod codec;
#[doc(hidden)]
pub mod codegen;
pub mod config;
pub mod dynamic;
pub mod errors;
pub mod events;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod handler;
pub mod http_rule;
pub mod metadata;
pub mod metrics;
pub mod middleware;
pub mod registry;
pub mod selector;
pub mod server;
pub mod service;
pub mod store;
pub mod sync;
pub mod trace;

mod backoff;
mod context;
mod deadline;
mod error_shape;
#[cfg(any(
    feature = "registry-etcd",
    feature = "config-etcd",
    feature = "sync-etcd"
))]
mod etcd;
mod flags;
mod go_json;
mod layers;
mod log;
#[cfg(any(feature = "broker-nats", feature = "events-nats"))]
mod nats;
mod net;
mod rfc3339;
mod rpc;
mod stream;
mod telemetry;
mod transcode;

pub use client::{Call, Client};
pub use context::Context;
pub use flags::Flags;
/// Marks an `impl` block as a proto-less handler: see [`mod@handler`].
pub use micro_macros::handler;
pub use net::BackendTls;
pub use service::{RunningService, Service};
pub use stream::{Sender, Streaming};
pub use tonic::{Code, Status};
pub use transcode::JsonOptions;

/// A boxed error, as tower layers pass them around.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed, sendable future: what the backend traits' methods return, so that `dyn Registry`,
/// `dyn Broker`, `dyn Store` and the others work.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Includes the code `micro-build` generated for a proto package, e.g.
/// `micro::include_proto!("helloworld")` for `helloworld.rs` in `OUT_DIR`.
///
/// Packages with dots (`acme.billing.v1`) are included by their full name; nest the modules
/// to match the package when protos refer to each other across packages.
#[macro_export]
macro_rules! include_proto {
    ($package:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
    };
}
