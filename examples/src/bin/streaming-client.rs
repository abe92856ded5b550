//! Calls each method of the streaming service and prints what comes back.
//!
//! Run it (with `cargo run -p examples --bin streaming` running):
//!
//! ```sh
//! cargo run -p examples --bin streaming-client
//! cargo run -p examples --bin streaming-client -- --address 127.0.0.1:9091
//! ```

use clap::Parser;
use examples::streaming::{CountRequest, Number, PingRequest, StreamerClient, Words};
use micro::Client;

/// Exercises every RPC kind of the streaming service.
#[derive(Parser)]
struct Args {
    /// Where the streaming service listens.
    #[arg(long, env = "MICRO_CLIENT_ADDRESS", default_value = "127.0.0.1:8081")]
    address: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let streamer = StreamerClient::new(Client::connect(&args.address)?);

    let pong = streamer
        .ping(PingRequest {
            text: "ping".into(),
        })
        .await?;
    println!("ping -> {}", pong.text);

    let mut counts = streamer
        .count(CountRequest {
            to: 3,
            interval_ms: 0,
        })
        .await?;
    while let Some(reply) = counts.recv().await? {
        println!("count -> {}", reply.number);
    }

    let numbers = futures::stream::iter([1, 2, 3].map(|value| Number { value }));
    let sum = streamer.sum(numbers).await?;
    println!("sum -> {} of {} numbers", sum.total, sum.count);

    let words = futures::stream::iter(["hello", "world"].map(|text| Words { text: text.into() }));
    let mut shouts = streamer.shout(words).await?;
    while let Some(reply) = shouts.recv().await? {
        println!("shout -> {}", reply.text);
    }
    Ok(())
}
