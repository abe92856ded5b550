//! The server under test for connectrpc.com/conformance's `connectconformance`: reads a
//! size-delimited `ServerCompatRequest` on stdin, starts `ConformanceService` on a free
//! loopback port and writes a size-delimited `ServerCompatResponse` naming it on stdout.
//!
//! `connectconformance --mode server --conf interop/conformance/config.yaml -- conformance-server`

use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use micro::Service;
use micro::registry::MemoryRegistry;
use micro_interop::conformance::{
    ConformanceServiceServer, ServerCompatRequest, ServerCompatResponse,
};
use micro_interop::conformance_server::ConformanceServer;
use prost::Message;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let request: ServerCompatRequest = read_delimited(&mut std::io::stdin().lock())?;
    if request.use_tls {
        bail!("this conformance server does not serve TLS; the config says supports_tls: false");
    }
    let mut service = Service::new("connectrpc.conformance.v1")
        .address("127.0.0.1:0")
        .registry(Arc::new(MemoryRegistry::new()))
        .flags(micro::Flags::default())
        .handle(ConformanceServiceServer::new(ConformanceServer));
    if request.message_receive_limit > 0 {
        service = service.max_message_size(request.message_receive_limit as usize);
    }
    let running = service.start().await.context("cannot start the service")?;
    let response = ServerCompatResponse {
        host: "127.0.0.1".to_owned(),
        port: running.local_addr().port().into(),
        pem_cert: Vec::new(),
    };
    write_delimited(&mut std::io::stdout().lock(), &response)?;
    // The runner stops each server with SIGTERM.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    running.stop().await?;
    Ok(())
}

/// One message after its 4-byte big-endian length.
fn read_delimited<M: Message + Default>(input: &mut impl Read) -> anyhow::Result<M> {
    let mut len = [0; 4];
    input
        .read_exact(&mut len)
        .context("reading the request's length")?;
    let mut bytes = vec![0; u32::from_be_bytes(len) as usize];
    input
        .read_exact(&mut bytes)
        .context("reading the request")?;
    M::decode(bytes.as_slice()).context("decoding the ServerCompatRequest")
}

fn write_delimited(output: &mut impl Write, message: &impl Message) -> anyhow::Result<()> {
    let bytes = message.encode_to_vec();
    output.write_all(&(bytes.len() as u32).to_be_bytes())?;
    output.write_all(&bytes)?;
    output.flush()?;
    Ok(())
}
