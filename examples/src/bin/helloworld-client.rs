//! Calls the helloworld service once and prints the reply.
//!
//! Run it (with `cargo run -p examples --bin helloworld` running):
//!
//! ```sh
//! cargo run -p examples --bin helloworld-client -- alice
//! cargo run -p examples --bin helloworld-client -- --address 127.0.0.1:9090 bob
//! ```

use clap::Parser;
use examples::helloworld::{HelloworldClient, Request};
use micro::Client;

/// Greets someone through the helloworld service.
#[derive(Parser)]
struct Args {
    /// Who to greet.
    #[arg(default_value = "world")]
    name: String,
    /// Where helloworld listens.
    #[arg(long, env = "MICRO_CLIENT_ADDRESS", default_value = "127.0.0.1:8080")]
    address: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let helloworld = HelloworldClient::new(Client::connect(&args.address)?);
    let reply = helloworld.greeting(Request { name: args.name }).await?;
    println!("{}", reply.message);
    Ok(())
}
