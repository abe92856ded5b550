//! Unary echo: micro's generated client and server vs raw tonic's, same proto, same load.
//!
//! ```sh
//! cargo run --release -p micro-benches --bin unary                  # or scripts/bench.sh
//! cargo run --release -p micro-benches --bin unary -- --requests 100000 --concurrency 32
//! ```
//!
//! Both stacks run in this process on loopback, taking turns: rounds alternate tonic, micro,
//! tonic, micro…, and each stack's median round is reported, with micro's ratio to tonic.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use tokio::sync::Mutex;

#[allow(dead_code, unreachable_pub, missing_docs)]
mod micro_pb {
    micro::include_proto!("micro/helloworld");
}

#[allow(dead_code, unreachable_pub, missing_docs)]
mod tonic_pb {
    tonic::include_proto!("tonic/helloworld");
}

/// Unary echo benchmark: micro vs raw tonic.
#[derive(Parser)]
struct Args {
    /// Requests per round.
    #[arg(long, default_value_t = 50_000)]
    requests: u64,
    /// Concurrent callers (each awaits its reply before sending again).
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
    /// Rounds per stack; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Run one stack only (`micro` or `tonic`), e.g. to profile it.
    #[arg(long, value_parser = ["micro", "tonic"])]
    only: Option<String>,
}

/// One round's outcome.
struct Round {
    requests_per_second: f64,
    p50: Duration,
    p99: Duration,
}

struct MicroGreeter;

impl micro_pb::HelloworldHandler for MicroGreeter {
    async fn greeting(
        &self,
        _ctx: micro::Context,
        request: micro_pb::Request,
    ) -> Result<micro_pb::Response, micro::Status> {
        Ok(micro_pb::Response {
            message: format!("Hello {}", request.name),
        })
    }
}

struct TonicGreeter;

#[tonic::async_trait]
impl tonic_pb::helloworld_server::Helloworld for TonicGreeter {
    async fn greeting(
        &self,
        request: tonic::Request<tonic_pb::Request>,
    ) -> Result<tonic::Response<tonic_pb::Response>, tonic::Status> {
        let name = request.into_inner().name;
        Ok(tonic::Response::new(tonic_pb::Response {
            message: format!("Hello {name}"),
        }))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();

    let micro_service = micro::Service::new("helloworld")
        .address("127.0.0.1:0")
        .handle(micro_pb::HelloworldServer::new(MicroGreeter))
        .start()
        .await?;
    let micro_client = micro_pb::HelloworldClient::new(micro::Client::connect(
        &micro_service.local_addr().to_string(),
    )?);

    let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse()?)?
        .with_nodelay(Some(true));
    let tonic_addr = incoming.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(tonic_pb::helloworld_server::HelloworldServer::new(
                TonicGreeter,
            ))
            .serve_with_incoming(incoming),
    );
    let tonic_client =
        tonic_pb::helloworld_client::HelloworldClient::connect(format!("http://{tonic_addr}"))
            .await?;

    let call_micro = move || {
        let client = micro_client.clone();
        async move {
            let reply = client
                .greeting(micro_pb::Request {
                    name: "bench".into(),
                })
                .await;
            assert_eq!(reply.expect("micro call").message, "Hello bench");
        }
    };
    let call_tonic = move || {
        let mut client = tonic_client.clone();
        async move {
            let reply = client
                .greeting(tonic_pb::Request {
                    name: "bench".into(),
                })
                .await;
            assert_eq!(
                reply.expect("tonic call").into_inner().message,
                "Hello bench"
            );
        }
    };

    if let Some(only) = args.only.as_deref() {
        let round = match only {
            "micro" => run_round(&args, args.requests, call_micro).await,
            _ => run_round(&args, args.requests, call_tonic).await,
        };
        println!("{only}: {:.0} req/s", round.requests_per_second);
        return Ok(());
    }

    // Warm up both (connections, allocator, caches).
    run_round(&args, args.requests / 10, call_tonic.clone()).await;
    run_round(&args, args.requests / 10, call_micro.clone()).await;

    let (mut tonic_rounds, mut micro_rounds) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        tonic_rounds.push(run_round(&args, args.requests, call_tonic.clone()).await);
        micro_rounds.push(run_round(&args, args.requests, call_micro.clone()).await);
    }
    let tonic = median(tonic_rounds);
    let micro = median(micro_rounds);

    println!(
        "unary echo, {} requests x {} rounds, concurrency {} (median round)",
        args.requests, args.rounds, args.concurrency
    );
    println!(
        "{:<12} {:>12} {:>10} {:>10}",
        "stack", "req/s", "p50", "p99"
    );
    for (name, round) in [("raw tonic", &tonic), ("micro", &micro)] {
        println!(
            "{name:<12} {:>12.0} {:>8.0}µs {:>8.0}µs",
            round.requests_per_second,
            round.p50.as_secs_f64() * 1e6,
            round.p99.as_secs_f64() * 1e6
        );
    }
    println!(
        "ratio micro/tonic: throughput {:.3}x, p50 {:+.1}µs",
        micro.requests_per_second / tonic.requests_per_second,
        (micro.p50.as_secs_f64() - tonic.p50.as_secs_f64()) * 1e6
    );
    micro_service.stop().await?;
    Ok(())
}

/// Sends `requests` calls from `concurrency` tasks and measures throughput and latency.
async fn run_round<F, Fut>(args: &Args, requests: u64, call: F) -> Round
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new(3).expect("histogram")));
    let per_task = requests / args.concurrency;
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let call = call.clone();
            let histogram = histogram.clone();
            tokio::spawn(async move {
                let mut local = Histogram::<u64>::new(3).expect("histogram");
                for _ in 0..per_task {
                    let sent = Instant::now();
                    call().await;
                    local
                        .record(sent.elapsed().as_nanos() as u64)
                        .expect("record");
                }
                histogram.lock().await.add(local).expect("merge");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("caller task");
    }
    let elapsed = started.elapsed();
    let histogram = histogram.lock().await;
    Round {
        requests_per_second: (per_task * args.concurrency) as f64 / elapsed.as_secs_f64(),
        p50: Duration::from_nanos(histogram.value_at_quantile(0.50)),
        p99: Duration::from_nanos(histogram.value_at_quantile(0.99)),
    }
}

fn median(mut rounds: Vec<Round>) -> Round {
    rounds.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    rounds.swap_remove(rounds.len() / 2)
}
