//! A real nats-server with JetStream on loopback, storing in a temporary directory, that a test
//! can kill and restart.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::{free_port, tool, wait_until};

/// A nats-server (JetStream enabled) this test owns. Killed when dropped.
pub struct NatsServer {
    binary: PathBuf,
    store: TempDir,
    port: u16,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts nats-server (`MICRO_TEST_NATS_BIN`, or `nats-server` on PATH); `None` when it is not
    /// installed and tools are not required.
    pub fn start() -> Option<NatsServer> {
        let binary = tool("MICRO_TEST_NATS_BIN", "nats-server")?;
        let store = tempfile::tempdir().expect("a temporary directory");
        let mut server = NatsServer {
            binary,
            store,
            port: free_port(),
            child: None,
        };
        server.launch();
        Some(server)
    }

    /// `127.0.0.1:PORT`, for `--broker-address` and `--events-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills nats-server abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts nats-server again on the same port with the same store directory, so JetStream
    /// streams, consumers and messages survive.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn launch(&mut self) {
        let child = Command::new(&self.binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let address = self.address();
        wait_until(
            "nats-server to accept connections",
            Duration::from_secs(20),
            || TcpStream::connect(&address).is_ok(),
        );
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
