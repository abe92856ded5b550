//! A Rust load generator in its own process, so the peer benchmark can pin it to a core of
//! its own: micro's or raw tonic's client against any helloworld/streaming server (micro,
//! tonic, grpc-go, connect-go). Prints one JSON line (`peer::report::Report`), as the Go load
//! generator (`peers/bench/cmd/loadgen`) does.
//!
//! ```sh
//! peer-load --client micro --target 127.0.0.1:50051 --rpc unary --concurrency 32 --requests 50000
//! ```

mod load;
mod peer;

use clap::Parser;
use futures::StreamExt;
use peer::greeter::pb as greeter_pb;
use peer::report::Report;
use peer::{micro_pb, tonic_pb};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Calls a helloworld/streaming server and reports throughput, latency and CPU.
#[derive(Parser, Clone)]
struct Args {
    /// Whose client calls: micro or tonic.
    #[arg(long, value_parser = ["micro", "tonic"])]
    client: String,
    /// The server, host:port.
    #[arg(long)]
    target: String,
    /// What to call: Helloworld.Greeting (unary), Streamer.Count (server-stream, `--messages`
    /// per call) or Streamer.Shout (bidi: one stream per caller, one round trip per message).
    #[arg(long, value_parser = ["unary", "server-stream", "bidi"], default_value = "unary")]
    rpc: String,
    /// Concurrent callers.
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
    /// Calls (unary) or messages (streams) measured.
    #[arg(long, default_value_t = 50_000)]
    requests: u64,
    /// Messages per server-streaming call.
    #[arg(long, default_value_t = 1000)]
    messages: u32,
    /// HTTP/2 connections micro's client may open to the server (its default otherwise).
    #[arg(long)]
    pool_size: Option<usize>,
    /// Retries micro's client may make (its default otherwise); 0 spares it buffering each
    /// request for a resend.
    #[arg(long)]
    retries: Option<u32>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let calls = match args.rpc.as_str() {
        "server-stream" => (args.requests / u64::from(args.messages)).max(args.concurrency),
        _ => args.requests,
    };
    // A warm-up of a tenth, then the measured run.
    run(&args, calls / 10).await?;
    let round = run(&args, calls).await?;
    let per_call = match args.rpc.as_str() {
        "server-stream" => u64::from(args.messages),
        _ => 1,
    };
    let measured = (calls / args.concurrency) * args.concurrency;
    let seconds = measured as f64 / round.requests_per_second;
    let report = Report {
        requests: measured * per_call,
        seconds,
        per_second: round.requests_per_second * per_call as f64,
        p50_us: round.p50.as_secs_f64() * 1e6,
        p99_us: round.p99.as_secs_f64() * 1e6,
        cpu_seconds: round.cpu_per_request.as_secs_f64() * measured as f64,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// micro's client of `args.target`, with `--pool-size` and `--retries` if given.
fn micro_client(args: &Args) -> anyhow::Result<micro::Client> {
    let mut builder = micro::Client::builder().address(&args.target);
    if let Some(connections) = args.pool_size {
        builder = builder.pool_size(connections);
    }
    if let Some(retries) = args.retries {
        builder = builder.retries(retries);
    }
    Ok(builder.build()?)
}

async fn run(args: &Args, calls: u64) -> anyhow::Result<load::Round> {
    let (concurrency, messages) = (args.concurrency, args.messages);
    let address = args.target.clone();
    Ok(match (args.client.as_str(), args.rpc.as_str()) {
        ("micro", "unary") => {
            let client = greeter_pb::HelloworldClient::new(micro_client(args)?);
            load::round(
                calls,
                concurrency,
                || std::future::ready(client.clone()),
                |client| async move {
                    let reply = client
                        .greeting(greeter_pb::Request {
                            name: "bench".into(),
                        })
                        .await;
                    assert_eq!(reply.expect("micro call").message, "Hello bench");
                    client
                },
            )
            .await
        }
        ("micro", "server-stream") => {
            let client = micro_pb::streaming::StreamerClient::new(micro_client(args)?);
            load::round(
                calls,
                concurrency,
                || std::future::ready(client.clone()),
                move |client| async move {
                    let request = micro_pb::streaming::CountRequest {
                        to: messages,
                        interval_ms: 0,
                    };
                    let mut replies = client.count(request).await.expect("micro count");
                    let mut received = 0;
                    while let Some(reply) = replies.recv().await.expect("micro count reply") {
                        received += 1;
                        assert_eq!(reply.number, received);
                    }
                    assert_eq!(received, messages);
                    client
                },
            )
            .await
        }
        ("micro", _) => {
            let client = micro_pb::streaming::StreamerClient::new(micro_client(args)?);
            let open = || {
                let client = client.clone();
                async move {
                    let (words, requests) = mpsc::channel(1);
                    let replies = client
                        .shout(ReceiverStream::new(requests))
                        .await
                        .expect("micro shout");
                    (words, replies)
                }
            };
            load::round(
                calls,
                concurrency,
                open,
                |(words, mut replies)| async move {
                    let text = "bench".to_owned();
                    words
                        .send(micro_pb::streaming::Words { text })
                        .await
                        .expect("send");
                    let reply = replies
                        .recv()
                        .await
                        .expect("micro shout reply")
                        .expect("a reply");
                    assert_eq!(reply.text, "BENCH");
                    (words, replies)
                },
            )
            .await
        }
        ("tonic", rpc) => {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
                .tcp_nodelay(true)
                .connect()
                .await?;
            tonic_round(channel, rpc, calls, concurrency, messages).await
        }
        _ => unreachable!("clap checks the values"),
    })
}

async fn tonic_round(
    channel: tonic::transport::Channel,
    rpc: &str,
    calls: u64,
    concurrency: u64,
    messages: u32,
) -> load::Round {
    use tonic_pb::helloworld::helloworld_client::HelloworldClient;
    use tonic_pb::streaming::streamer_client::StreamerClient;
    let greeter = HelloworldClient::new(channel.clone());
    let streamer = StreamerClient::new(channel);
    match rpc {
        "unary" => {
            load::round(
                calls,
                concurrency,
                || std::future::ready(greeter.clone()),
                |mut client| async move {
                    let request = tonic_pb::helloworld::Request {
                        name: "bench".into(),
                    };
                    let reply = client
                        .greeting(request)
                        .await
                        .expect("tonic call")
                        .into_inner();
                    assert_eq!(reply.message, "Hello bench");
                    client
                },
            )
            .await
        }
        "server-stream" => {
            load::round(
                calls,
                concurrency,
                || std::future::ready(streamer.clone()),
                move |mut client| async move {
                    let request = tonic_pb::streaming::CountRequest {
                        to: messages,
                        interval_ms: 0,
                    };
                    let mut replies = client
                        .count(request)
                        .await
                        .expect("tonic count")
                        .into_inner();
                    let mut received = 0;
                    while let Some(reply) = replies.next().await {
                        received += 1;
                        assert_eq!(reply.expect("tonic count reply").number, received);
                    }
                    assert_eq!(received, messages);
                    client
                },
            )
            .await
        }
        _ => {
            // tonic's client waits for the response headers before it hands out the stream,
            // and servers that send them with the first reply (grpc-go, micro) wait for a
            // request: so the first message goes before the call, and its reply is read here.
            let open = || {
                let mut client = streamer.clone();
                async move {
                    let (words, requests) = mpsc::channel(1);
                    let first = tonic_pb::streaming::Words {
                        text: "bench".into(),
                    };
                    words.send(first).await.expect("send");
                    let replies = client
                        .shout(ReceiverStream::new(requests))
                        .await
                        .expect("tonic shout");
                    let mut replies = replies.into_inner();
                    let reply = replies.next().await.expect("a reply");
                    reply.expect("tonic shout reply");
                    (words, replies)
                }
            };
            load::round(
                calls,
                concurrency,
                open,
                |(words, mut replies)| async move {
                    let text = "bench".to_owned();
                    words
                        .send(tonic_pb::streaming::Words { text })
                        .await
                        .expect("send");
                    let reply = replies
                        .next()
                        .await
                        .expect("a reply")
                        .expect("tonic shout reply");
                    assert_eq!(reply.text, "BENCH");
                    (words, replies)
                },
            )
            .await
        }
    }
}
