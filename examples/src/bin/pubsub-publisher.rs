//! Publishes signups on `signups` for the `pubsub` example's mailer, then exits.
//!
//! ```sh
//! cargo run -p examples --bin pubsub-publisher -- --count 3
//! cargo run -p examples --bin pubsub-publisher -- --registry etcd --registry-address 127.0.0.1:2379
//! ```
//!
//! It prints `published N` when every subscriber took every signup, and exits 1 (naming the
//! failure) when one could not be delivered.

use clap::Parser;
use examples::pubsub::Signup;
use micro::{Flags, Service};

/// Publishes `--count` signups.
#[derive(Parser)]
struct Args {
    /// How many signups to publish.
    #[arg(long, default_value_t = 1)]
    count: u64,
    #[command(flatten)]
    micro: Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Service::new("signup-form").flags(args.micro).client()?;
    for sequence in 0..args.count {
        let signup = Signup {
            email: format!("user{sequence}@example.com"),
            plan: "free".into(),
            sequence,
        };
        client.publish("signups", &signup).await?;
    }
    println!("published {}", args.count);
    Ok(())
}
