//! JSON over HTTP/1.1: micro's go-micro route (`Micro-Endpoint`) and Connect route
//! (`POST /helloworld.Helloworld/Greeting`), for a generated handler and for a proto-less one
//! (`#[micro::handler]` over serde types), vs a bare axum handler doing the same work.
//!
//! ```sh
//! cargo run --release -p micro-benches --bin json        # or scripts/bench.sh
//! ```
//!
//! The axum handler decodes `{"name":…}` with serde_json, formats the greeting and encodes
//! `{"message":…}`: what a hand-written JSON endpoint does. Each caller owns one keep-alive
//! HTTP/1.1 connection. Rounds alternate between the five targets; medians are reported.

mod greeter;
mod load;

use std::net::SocketAddr;

use axum::Json;
use axum::serve::ListenerExt;
use bytes::Bytes;
use clap::Parser;
use greeter::{Greeter, pb as micro_pb};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

/// JSON benchmark: micro's JSON routes vs bare axum.
#[derive(Parser)]
struct Args {
    /// Requests per round.
    #[arg(long, default_value_t = 50_000)]
    requests: u64,
    /// Concurrent callers, each with its own connection.
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
    /// Rounds per target; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Run one target only (0 axum, 1 Micro-Endpoint, 2 Connect path, 3 and 4 the same two
    /// routes to the proto-less handler), e.g. to profile it.
    #[arg(long)]
    only: Option<usize>,
}

#[derive(Deserialize)]
struct AxumRequest {
    name: String,
}

#[derive(Serialize)]
struct AxumResponse {
    message: String,
}

/// The same service without a `.proto`: the serde types are the messages.
struct Helloworld;

#[micro::handler]
impl Helloworld {
    async fn greeting(
        &self,
        _ctx: micro::Context,
        request: PlainRequest,
    ) -> Result<PlainResponse, micro::Status> {
        Ok(PlainResponse {
            message: format!("Hello {}", request.name),
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Request")]
struct PlainRequest {
    name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "Response")]
struct PlainResponse {
    message: String,
}

async fn axum_greeting(Json(request): Json<AxumRequest>) -> Json<AxumResponse> {
    Json(AxumResponse {
        message: format!("Hello {}", request.name),
    })
}

/// One HTTP request shape: where it goes and with which headers.
#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    path: &'static str,
    micro_endpoint: bool,
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

async fn post(sender: &mut SendRequest<Full<Bytes>>, target: &Target) {
    let mut request = http::Request::post(target.path)
        .header("host", "bench")
        .header("content-type", "application/json");
    if target.micro_endpoint {
        request = request.header("micro-endpoint", "Helloworld.Greeting");
    }
    let request = request
        .body(Full::new(Bytes::from_static(br#"{"name":"bench"}"#)))
        .expect("request");
    sender.ready().await.expect("ready");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), 200);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert!(
        body.starts_with(br#"{"message":"Hello bench"}"#),
        "{body:?}"
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let service = micro::Service::new("helloworld")
        .address("127.0.0.1:0")
        .registry(std::sync::Arc::new(micro::registry::MemoryRegistry::new()))
        .handle(micro_pb::HelloworldServer::new(Greeter))
        .start()
        .await?;
    let plain = micro::Service::new("helloworld")
        .address("127.0.0.1:0")
        .registry(std::sync::Arc::new(micro::registry::MemoryRegistry::new()))
        .handle(Helloworld)
        .start()
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let axum_addr = listener.local_addr()?;
    let app = axum::Router::new().route("/greeting", axum::routing::post(axum_greeting));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let targets = [
        (
            "bare axum (serde_json)",
            Target {
                addr: axum_addr,
                path: "/greeting",
                micro_endpoint: false,
            },
        ),
        (
            "micro, Micro-Endpoint",
            Target {
                addr: service.local_addr(),
                path: "/",
                micro_endpoint: true,
            },
        ),
        (
            "micro, POST /pkg.Svc/Method",
            Target {
                addr: service.local_addr(),
                path: "/helloworld.Helloworld/Greeting",
                micro_endpoint: false,
            },
        ),
        (
            "micro proto-less, Micro-Endpoint",
            Target {
                addr: plain.local_addr(),
                path: "/",
                micro_endpoint: true,
            },
        ),
        (
            "micro proto-less, POST /pkg.Svc/Method",
            Target {
                addr: plain.local_addr(),
                path: "/helloworld.Helloworld/Greeting",
                micro_endpoint: false,
            },
        ),
    ];
    let title = format!(
        "JSON over HTTP/1.1, {} requests x {} rounds, concurrency {} (median round)",
        args.requests, args.rounds, args.concurrency
    );
    let concurrency = args.concurrency;
    load::compare(
        &targets,
        args.only,
        &title,
        args.rounds,
        args.requests,
        |target, requests| one_round(target, requests, concurrency),
    )
    .await;
    service.stop().await?;
    plain.stop().await?;
    Ok(())
}

async fn one_round(target: Target, requests: u64, concurrency: u64) -> load::Round {
    let addr = target.addr;
    load::round(
        requests,
        concurrency,
        move || connect(addr),
        move |mut sender| {
            let target = target.clone();
            async move {
                post(&mut sender, &target).await;
                sender
            }
        },
    )
    .await
}
