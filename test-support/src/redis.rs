//! A real redis-server on loopback, persisting to a temporary directory, that a test can kill
//! and restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::{free_port, tool, wait_until};

/// A redis-server this test owns. Killed when dropped.
pub struct RedisServer {
    binary: PathBuf,
    data: TempDir,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts redis-server (`MICRO_TEST_REDIS_BIN`, or `redis-server` on PATH) with an
    /// append-only file synced on every write; `None` when it is not installed and tools are
    /// not required.
    pub fn start() -> Option<RedisServer> {
        let binary = tool("MICRO_TEST_REDIS_BIN", "redis-server")?;
        let data = tempfile::tempdir().expect("a temporary directory");
        let mut server = RedisServer {
            binary,
            data,
            port: free_port(),
            child: None,
        };
        server.launch();
        Some(server)
    }

    /// `127.0.0.1:PORT`, for `--events-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills redis-server abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts redis-server again on the same port and data directory: everything written
    /// before the kill is still there.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn launch(&mut self) {
        let child = Command::new(&self.binary)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let address = self.address();
        wait_until(
            "redis-server to answer PING",
            Duration::from_secs(20),
            || answers_ping(&address),
        );
    }
}

/// Whether the server at `address` answers `PING` with `+PONG` (not `-LOADING`).
fn answers_ping(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
