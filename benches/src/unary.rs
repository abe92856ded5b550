//! Unary echo: micro's generated client and server vs raw tonic's, same proto, same load.
//!
//! ```sh
//! cargo run --release -p micro-benches --bin unary                  # or scripts/bench.sh
//! cargo run --release -p micro-benches --bin unary -- --requests 100000 --concurrency 32
//! ```
//!
//! The stacks run in this process on loopback, taking turns: rounds alternate tonic, micro
//! direct, micro full stack…, and each stack's median round is reported, with its ratio to
//! tonic. "micro direct" calls the address; "micro full stack" is the default client: it
//! resolves `helloworld` through the registry (cache), picks a node at random, and has
//! retries armed (buffered request, retry budget).

mod load;
mod peer;

use clap::Parser;
use peer::TonicGreeter;
use peer::greeter::{Greeter as MicroGreeter, caller, greet, pb as micro_pb};
use peer::tonic_pb::helloworld as tonic_pb;

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
    /// HTTP/2 connections per node at most in micro's clients.
    #[arg(long, default_value_t = micro::client::DEFAULT_POOL_SIZE)]
    pool_size: usize,
    /// Calls in flight on one of micro's connections before the next one opens.
    #[arg(long, default_value_t = micro::client::DEFAULT_STREAMS_PER_CONNECTION)]
    streams_per_connection: usize,
    /// Retries micro's clients may make (0 disarms the retry layer's buffering).
    #[arg(long, default_value_t = micro::client::DEFAULT_RETRIES)]
    retries: u32,
    /// Run one stack only (`micro`, `stack` or `tonic`), e.g. to profile it.
    #[arg(long, value_parser = ["micro", "stack", "tonic", "micro@tonic", "tonic@micro"])]
    only: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();

    let registry: std::sync::Arc<dyn micro::registry::Registry> =
        std::sync::Arc::new(micro::registry::MemoryRegistry::new());
    let micro_service = micro::Service::new("helloworld")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .handle(micro_pb::HelloworldServer::new(MicroGreeter))
        .start()
        .await?;
    let micro_client = micro::Client::builder()
        .address(micro_service.local_addr().to_string())
        .pool_size(args.pool_size)
        .streams_per_connection(args.streams_per_connection)
        .retries(args.retries)
        .build()?;
    let micro_client = micro_pb::HelloworldClient::new(micro_client);
    let stack_client = micro::Client::builder()
        .registry(registry)
        .pool_size(args.pool_size)
        .streams_per_connection(args.streams_per_connection)
        .retries(args.retries)
        .build()?;
    let stack_client = micro_pb::HelloworldClient::new(stack_client);

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

    let call_micro = greet;
    let call_tonic = |mut client: tonic_pb::helloworld_client::HelloworldClient<_>| async move {
        let reply = client
            .greeting(tonic_pb::Request {
                name: "bench".into(),
            })
            .await;
        assert_eq!(
            reply.expect("tonic call").into_inner().message,
            "Hello bench"
        );
        client
    };
    let micro_caller = caller(&micro_client);
    let stack_caller = caller(&stack_client);
    let tonic_caller = || {
        let client = tonic_client.clone();
        async move { client }
    };
    let (requests, concurrency) = (args.requests, args.concurrency);
    let cross_micro = micro_pb::HelloworldClient::new(
        micro::Client::builder()
            .address(tonic_addr.to_string())
            .pool_size(args.pool_size)
            .streams_per_connection(args.streams_per_connection)
            .retries(args.retries)
            .build()?,
    );
    let cross_tonic = tonic_pb::helloworld_client::HelloworldClient::connect(format!(
        "http://{}",
        micro_service.local_addr()
    ))
    .await?;

    if let Some(only) = args.only.as_deref() {
        let round = match only {
            "micro" => load::round(requests, concurrency, micro_caller, call_micro).await,
            "stack" => load::round(requests, concurrency, stack_caller, call_micro).await,
            "micro@tonic" => {
                load::round(requests, concurrency, caller(&cross_micro), call_micro).await
            }
            "tonic@micro" => {
                let caller = || {
                    let client = cross_tonic.clone();
                    async move { client }
                };
                load::round(requests, concurrency, caller, call_tonic).await
            }
            _ => load::round(requests, concurrency, tonic_caller, call_tonic).await,
        };
        println!("{only}: {:.0} req/s", round.requests_per_second);
        return Ok(());
    }

    // Warm up both (connections, allocator, caches).
    load::round(requests / 10, concurrency, tonic_caller, call_tonic).await;
    load::round(requests / 10, concurrency, micro_caller, call_micro).await;
    load::round(requests / 10, concurrency, stack_caller, call_micro).await;

    let measured = load::rotate(3, args.rounds, |stack| match stack {
        0 => Box::pin(load::round(requests, concurrency, tonic_caller, call_tonic)),
        1 => Box::pin(load::round(requests, concurrency, micro_caller, call_micro)),
        _ => Box::pin(load::round(requests, concurrency, stack_caller, call_micro)),
    })
    .await;
    println!(
        "unary echo, {requests} requests x {} rounds, concurrency {concurrency} (median round)",
        args.rounds
    );
    let names = ["raw tonic", "micro direct", "micro full stack (registry)"];
    load::print_table(
        "stack",
        &names.into_iter().zip(measured).collect::<Vec<_>>(),
    );
    micro_service.stop().await?;
    Ok(())
}
