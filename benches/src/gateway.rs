//! The API gateway: unary JSON requests through `micro gateway` vs the same requests sent
//! straight to the service's own JSON route.
//!
//! ```sh
//! scripts/bench.sh gateway          # or: cargo run --release -p micro-benches --bin gateway
//! ```
//!
//! One helloworld service (generated code) in a memory registry; the gateway (the `micro_cli`
//! library, as `micro gateway` runs it) finds it there and calls it over gRPC through the
//! client stack. grpc-gateway v2 (Go, `peers/bench/cmd/grpc-gateway`, built by
//! `scripts/build-peers.sh`) fronts the same service over gRPC, for comparison; its CPU time
//! counts with this process's. The same hyper HTTP/1.1 client (one keep-alive connection per
//! caller) posts `{"name":"bench"}` to `POST /helloworld.Helloworld/Greeting` on the service
//! and on grpc-gateway, and to `POST /helloworld/Helloworld.Greeting` on micro's gateway.
//! Rounds alternate; medians are reported.
//!
//! A fourth target needs no gateway: the service answers the google.api.http rule of
//! `proto/helloworld_rest.proto` (`POST /v1/greeting`, the same greeting) on its own port.

mod load;
mod peer;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use micro::registry::{MemoryRegistry, Registry};
use peer::greeter::{Greeter, pb as micro_pb};

/// helloworld's Greeting with a google.api.http rule (`POST /v1/greeting`).
#[allow(dead_code, unreachable_pub, missing_docs)]
mod rest_pb {
    micro::include_proto!("micro/helloworld_rest");
}

/// Answers `Hello <name>`, as [`Greeter`] does, on the REST rule.
struct RestGreeter;

impl rest_pb::RestGreeterHandler for RestGreeter {
    async fn greeting(
        &self,
        _ctx: micro::Context,
        request: rest_pb::Request,
    ) -> Result<rest_pb::Response, micro::Status> {
        Ok(rest_pb::Response {
            message: format!("Hello {}", request.name),
        })
    }
}

/// Gateway benchmark: through the gateway vs straight to the service.
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
    /// Run one target only (0 direct, 1 gateway, 2 the service's own rule, 3 grpc-gateway),
    /// e.g. to profile it.
    #[arg(long)]
    only: Option<usize>,
    /// The directory with the Go peers' binaries (default: `$MICRO_TEST_GO_PEERS`, else
    /// `~/.cache/micro-rs/peers/bin`); without grpc-gateway there, it is left out.
    #[arg(long)]
    peers: Option<std::path::PathBuf>,
    /// Start the targets, print their URLs and serve until Ctrl-C, for load generators of
    /// your own (e.g. `taskset -c 1 gateway --serve-only` beside `taskset -c 0 wrk …`).
    #[arg(long)]
    serve_only: bool,
    /// The service gathers its HTTP/2 replies into fewer writes (`Service::gather_writes`).
    #[arg(long)]
    gather_writes: bool,
}

/// Where a request goes.
#[derive(Clone, Copy)]
struct Target {
    addr: SocketAddr,
    path: &'static str,
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

async fn post(sender: &mut SendRequest<Full<Bytes>>, target: Target) {
    let request = http::Request::post(target.path)
        .header("host", "bench")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(br#"{"name":"bench"}"#)))
        .expect("request");
    sender.ready().await.expect("ready");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(status, 200, "{body:?}");
    assert!(
        body.starts_with(br#"{"message":"Hello bench"}"#),
        "{body:?}"
    );
}

/// The gateway's environment, as `micro gateway` builds it from its flags, on the service's
/// in-process registry.
fn gateway_env(registry: Arc<dyn Registry>) -> anyhow::Result<micro_cli::Env> {
    let cli = micro_cli::Cli::parse_from(["micro", "--registry", "memory", "gateway"]);
    micro_cli::Env::with_registry(&cli.global, registry)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let registry: Arc<dyn Registry> = Arc::new(MemoryRegistry::new());
    let service = micro::Service::new("helloworld")
        .address("127.0.0.1:0")
        .gather_writes(args.gather_writes)
        .registry(registry.clone())
        .handle(micro_pb::HelloworldServer::new(Greeter))
        .handle(rest_pb::RestGreeterServer::new(RestGreeter))
        .start()
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gateway_addr = listener.local_addr()?;
    let gateway = micro_cli::gateway::Gateway::new(gateway_env(registry)?);
    tokio::spawn(gateway.run(listener, std::future::pending()));

    let mut targets = vec![
        (
            "direct, POST /pkg.Svc/Method",
            Target {
                addr: service.local_addr(),
                path: "/helloworld.Helloworld/Greeting",
            },
        ),
        (
            "gateway, POST /svc/Svc.Method",
            Target {
                addr: gateway_addr,
                path: "/helloworld/Helloworld.Greeting",
            },
        ),
    ];
    targets.push((
        "own rule, POST /v1/greeting",
        Target {
            addr: service.local_addr(),
            path: "/v1/greeting",
        },
    ));
    let peer = match grpc_gateway(&args, service.local_addr()).await? {
        Some((addr, child)) => {
            load::count_process(child.id().unwrap_or_default());
            targets.push((
                "grpc-gateway (Go), same path",
                Target {
                    addr,
                    path: "/helloworld.Helloworld/Greeting",
                },
            ));
            Some(child)
        }
        None => None,
    };
    if args.serve_only {
        for (name, target) in &targets {
            println!("{name}: http://{}{}", target.addr, target.path);
        }
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    let title = format!(
        "Gateway: JSON over HTTP/1.1, {} requests x {} rounds, concurrency {} (median round)",
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
    drop(peer);
    service.stop().await?;
    Ok(())
}

/// Starts grpc-gateway in front of the gRPC server at `backend` and returns the address it
/// serves HTTP on; `None` (with a note) when it is not built.
async fn grpc_gateway(
    args: &Args,
    backend: SocketAddr,
) -> anyhow::Result<Option<(SocketAddr, tokio::process::Child)>> {
    let dir = peer::go_peers_dir(args.peers.as_deref());
    let Some(binary) = dir
        .map(|dir| dir.join("grpc-gateway"))
        .filter(|b| b.exists())
    else {
        eprintln!("grpc-gateway is not built (scripts/build-peers.sh builds it): left out");
        return Ok(None);
    };
    let mut command = tokio::process::Command::new(&binary);
    command.args(["-listen", "127.0.0.1:0", "-backend", &backend.to_string()]);
    peer::start_listening(command).await.map(Some)
}

async fn one_round(target: Target, requests: u64, concurrency: u64) -> load::Round {
    load::round(
        requests,
        concurrency,
        move || connect(target.addr),
        move |mut sender| async move {
            post(&mut sender, target).await;
            sender
        },
    )
    .await
}
