//! A benchmark server in its own process, so the peer benchmark can pin it to a core of its
//! own: helloworld and streaming served by micro or by raw tonic.
//!
//! ```sh
//! peer-server --stack micro --listen 127.0.0.1:0   # prints "listening on <addr>"
//! ```

mod peer;

use clap::Parser;
use peer::greeter::pb as greeter_pb;
use peer::streamer::{MicroStreamer, TonicStreamer};
use peer::{micro_pb, tonic_pb};

/// Serves helloworld and streaming until killed.
#[derive(Parser)]
struct Args {
    /// Which framework serves: micro or tonic.
    #[arg(long, value_parser = ["micro", "tonic"])]
    stack: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// micro only: gather HTTP/2 replies into fewer writes (`Service::gather_writes`).
    #[arg(long)]
    gather_writes: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.stack.as_str() {
        "micro" => serve_micro(args.listen, args.gather_writes).await,
        _ => serve_tonic(args.listen).await,
    }
}

async fn serve_micro(listen: std::net::SocketAddr, gather_writes: bool) -> anyhow::Result<()> {
    let service = micro::Service::new("helloworld")
        .address(listen.to_string())
        .gather_writes(gather_writes)
        .registry(std::sync::Arc::new(micro::registry::MemoryRegistry::new()))
        .handle(greeter_pb::HelloworldServer::new(peer::greeter::Greeter))
        .handle(micro_pb::streaming::StreamerServer::new(MicroStreamer))
        .start()
        .await?;
    println!("listening on {}", service.local_addr());
    std::future::pending::<()>().await;
    Ok(())
}

async fn serve_tonic(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let incoming = tonic::transport::server::TcpIncoming::bind(listen)?.with_nodelay(Some(true));
    println!("listening on {}", incoming.local_addr()?);
    tonic::transport::Server::builder()
        .add_service(
            tonic_pb::helloworld::helloworld_server::HelloworldServer::new(peer::TonicGreeter),
        )
        .add_service(tonic_pb::streaming::streamer_server::StreamerServer::new(
            TonicStreamer,
        ))
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}
