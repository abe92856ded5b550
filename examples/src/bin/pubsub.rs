//! The mailer service: subscribes to `signups` (protobuf `pubsub.Signup`) and greets each one.
//!
//! Run it, then publish with `pubsub-publisher`:
//!
//! ```sh
//! cargo run -p examples --bin pubsub                            # go-micro's HTTP broker, mDNS
//! cargo run -p examples --bin pubsub-publisher -- --count 3
//! # every instance of a queue group shares the work; without --queue each gets everything
//! cargo run -p examples --bin pubsub -- --queue mailers
//! # over NATS (cargo feature `full`): nats-server -a 127.0.0.1 -p 4222
//! cargo run -p examples --features full --bin pubsub -- --broker nats --broker-address 127.0.0.1:4222
//! ```
//!
//! It logs `mailer: welcome <email> (#<sequence>)` for each signup.

use clap::Parser;
use examples::pubsub::Signup;
use micro::broker::SubscribeOptions;
use micro::{Context, Flags, Service, Status};

/// Greets every signup published on `signups`.
#[derive(Parser)]
struct Args {
    /// Join this queue group: each signup goes to one member of the group.
    #[arg(long)]
    queue: Option<String>,
    #[command(flatten)]
    micro: Flags,
}

async fn welcome(ctx: Context, signup: Signup) -> Result<(), Status> {
    if signup.email.is_empty() {
        return Err(Status::invalid_argument("a signup without an email"));
    }
    let from = ctx.get("micro-from-service").unwrap_or("someone");
    eprintln!(
        "mailer: welcome {} (#{}) from {from}",
        signup.email, signup.sequence
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), micro::service::Error> {
    let args = Args::parse();
    let mut options = SubscribeOptions::default();
    if let Some(queue) = args.queue {
        options = options.queue(queue);
    }
    Service::new("mailer")
        .address("127.0.0.1:0")
        .flags(args.micro)
        .subscribe_with("signups", options, welcome)
        .run()
        .await
}
