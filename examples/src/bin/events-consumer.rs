//! The billing service: consumes the `orders` stream in the consumer group `billing`, acking
//! each order once handled. Start several: the group splits the orders between them, and the
//! orders one was holding when it died go to the others.
//!
//! ```sh
//! # durable backends (cargo feature `full`), e.g. NATS JetStream:
//! nats-server -js -a 127.0.0.1 -p 4222 &
//! cargo run -p examples --features full --bin events-consumer -- --events nats --events-address 127.0.0.1:4222
//! cargo run -p examples --features full --bin events-producer -- --events nats --events-address 127.0.0.1:4222
//! ```
//!
//! It logs `billing: acked order <n> (attempt <a>)` for each order it handled.

use std::time::Duration;

use clap::Parser;
use micro::events::{ConsumeOptions, Event, Offset};
use micro::{Flags, Service};

/// Bills every order on the `orders` stream.
#[derive(Parser)]
struct Args {
    /// How long handling one order takes, in milliseconds.
    #[arg(long, default_value_t = 0)]
    work_ms: u64,
    /// How long an order may stay unacked before another member of the group gets it.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    ack_wait: Duration,
    #[command(flatten)]
    micro: Flags,
}

#[derive(serde::Deserialize)]
struct Order {
    order: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let service = Service::new("billing")
        .address("127.0.0.1:0")
        .flags(args.micro);
    let options = ConsumeOptions::default()
        .group("billing")
        .offset(Offset::Start)
        .manual_ack()
        .ack_wait(args.ack_wait);
    let mut orders = service.stream()?.consume("orders", options).await?;
    let work = Duration::from_millis(args.work_ms);
    tokio::spawn(async move {
        while let Some(event) = orders.next().await {
            bill(event, work).await;
        }
    });
    service.run().await?;
    Ok(())
}

async fn bill(event: Event, work: Duration) {
    let attempt = event.attempt();
    match event.decode::<Order>() {
        Ok(Order { order }) => {
            tokio::time::sleep(work).await;
            match event.ack().await {
                Ok(()) => eprintln!("billing: acked order {order} (attempt {attempt})"),
                Err(err) => eprintln!("billing: ack of order {order} failed: {err}"),
            }
        }
        Err(err) => {
            // Not an order: give it back; the stream's retry limit decides how often.
            eprintln!("billing: {err}");
            let _ = event.nack().await;
        }
    }
}
