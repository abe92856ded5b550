//! grpc's interop test server on micro-rs: `interop-server --port 10000`.
//!
//! It serves `grpc.testing.TestService` over gRPC (and micro-rs's other protocols) with an
//! in-memory registry, compressing replies with gzip for clients that accept it, as the
//! interop spec's server does.

use clap::Parser;
use micro::Service;
use micro::registry::MemoryRegistry;
use micro_interop::grpc_testing::TestServiceServer;
use micro_interop::server::TestServer;

/// grpc's interop server flags.
#[derive(Debug, Parser)]
struct Args {
    /// The port to listen on, on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// micro-rs's own flags (`--registry`, `--server-max-message-size`…).
    #[command(flatten)]
    micro: micro::Flags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    Service::new("grpc.testing")
        .address(format!("127.0.0.1:{}", args.port))
        .registry(std::sync::Arc::new(MemoryRegistry::new()))
        .compress_responses(true)
        .flags(args.micro)
        .handle(TestServiceServer::new(TestServer))
        .run()
        .await?;
    Ok(())
}
