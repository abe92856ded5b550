//! What the peer benchmark's own processes share: the protos as micro and tonic generate
//! them, and the handlers both frameworks serve (helloworld and streaming, as the Go peers in
//! `peers/bench` serve them).

#![allow(dead_code)]

pub(crate) mod external;
#[path = "../greeter.rs"]
pub(crate) mod greeter;
pub(crate) mod report;
pub(crate) mod streamer;

/// The protos as micro generates them.
#[allow(dead_code, unreachable_pub, missing_docs)]
pub(crate) mod micro_pb {
    pub(crate) mod streaming {
        micro::include_proto!("micro/streaming");
    }
}

/// The protos as tonic generates them.
#[allow(dead_code, unreachable_pub, missing_docs, clippy::all)]
pub(crate) mod tonic_pb {
    pub(crate) mod helloworld {
        tonic::include_proto!("tonic/helloworld");
    }
    pub(crate) mod streaming {
        tonic::include_proto!("tonic/streaming");
    }
}

/// Answers `Hello <name>` in tonic.
pub(crate) struct TonicGreeter;

#[tonic::async_trait]
impl tonic_pb::helloworld::helloworld_server::Helloworld for TonicGreeter {
    async fn greeting(
        &self,
        request: tonic::Request<tonic_pb::helloworld::Request>,
    ) -> Result<tonic::Response<tonic_pb::helloworld::Response>, tonic::Status> {
        let name = request.into_inner().name;
        Ok(tonic::Response::new(tonic_pb::helloworld::Response {
            message: format!("Hello {name}"),
        }))
    }
}

/// The directory with the Go peers' binaries: `explicit`, else `$MICRO_TEST_GO_PEERS`, else
/// `~/.cache/micro-rs/peers/bin` (where `scripts/build-peers.sh` puts them).
pub(crate) fn go_peers_dir(explicit: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    explicit
        .map(Into::into)
        .or_else(|| std::env::var_os("MICRO_TEST_GO_PEERS").map(Into::into))
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(std::path::Path::new(&home).join(".cache/micro-rs/peers/bin"))
        })
}

/// Starts `command`, which prints `listening on <addr>` (or go-micro's peers'
/// `{"listening":"<addr>"}`) on stdout, perhaps after some log lines, and returns it with that
/// address.
pub(crate) async fn start_listening(
    mut command: tokio::process::Command,
) -> anyhow::Result<(std::net::SocketAddr, tokio::process::Child)> {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let addr = loop {
        let Some(line) = lines.next_line().await? else {
            anyhow::bail!("{command:?} ended its output without an address: {seen:?}");
        };
        if let Some(addr) = listening_address(&line) {
            break addr;
        }
        anyhow::ensure!(seen.len() < 50, "{command:?} printed no address: {seen:?}");
        seen.push(line);
    };
    // Keep reading, so that the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((addr, child))
}

/// The address in `listening on <addr>` or `{"listening":"<addr>"}`.
fn listening_address(line: &str) -> Option<std::net::SocketAddr> {
    if let Some(addr) = line.strip_prefix("listening on ") {
        return addr.parse().ok();
    }
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    json.get("listening")?.as_str()?.parse().ok()
}
