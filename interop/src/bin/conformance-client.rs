//! The client under test for connectrpc.com/conformance's `connectconformance --mode client`:
//! reads size-delimited `ClientCompatRequest`s on stdin, makes each RPC with a micro-rs client
//! (all at once, as the runner expects) and writes a size-delimited `ClientCompatResponse` for
//! each on stdout; exits at the end of stdin once all are answered, or on SIGTERM.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use micro_interop::conformance::ClientCompatRequest;
use micro_interop::conformance_client::run;
use prost::Message;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (requests, mut incoming) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        while let Some(request) = read_delimited(&mut stdin) {
            if requests.send(request).is_err() {
                break;
            }
        }
    });
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let mut calls = tokio::task::JoinSet::new();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            request = incoming.recv() => match request {
                Some(request) => {
                    let stdout = stdout.clone();
                    calls.spawn(async move {
                        let response = run(request).await.encode_to_vec();
                        let mut out = stdout.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = out.write_all(&(response.len() as u32).to_be_bytes());
                        let _ = out.write_all(&response);
                        let _ = out.flush();
                    });
                }
                None => break,
            },
            _ = terminate.recv() => return Ok(()),
        }
    }
    while calls.join_next().await.is_some() {}
    Ok(())
}

/// The next message after its 4-byte big-endian length; `None` at the end of the input.
fn read_delimited(input: &mut impl Read) -> Option<ClientCompatRequest> {
    let mut len = [0; 4];
    input.read_exact(&mut len).ok()?;
    let mut bytes = vec![0; u32::from_be_bytes(len) as usize];
    input.read_exact(&mut bytes).ok()?;
    ClientCompatRequest::decode(bytes.as_slice()).ok()
}
