//! Publishes order events on the `orders` stream for the `events-consumer` example.
//!
//! ```sh
//! cargo run -p examples --bin events-producer -- --count 100 --events memory    # in-process only
//! # durable backends (cargo feature `full`):
//! cargo run -p examples --features full --bin events-producer -- --events nats --events-address 127.0.0.1:4222
//! cargo run -p examples --features full --bin events-producer -- --events redis --events-address 127.0.0.1:6379
//! ```
//!
//! Each event's payload is `{"order": <n>}`; it prints `published N` once all are stored.

use clap::Parser;
use micro::events::PublishOptions;
use micro::{Flags, Service};

/// Publishes `--count` orders.
#[derive(Parser)]
struct Args {
    /// How many events to publish.
    #[arg(long, default_value_t = 10)]
    count: u64,
    #[command(flatten)]
    micro: Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stream = Service::new("shop").flags(args.micro).stream()?;
    for order in 0..args.count {
        let payload = serde_json::to_vec(&serde_json::json!({ "order": order }))?;
        let options = PublishOptions::default().metadata("source", "shop");
        stream.publish("orders", payload.into(), options).await?;
    }
    println!("published {}", args.count);
    Ok(())
}
