//! A real nats-server with JetStream on loopback, storing in a temporary directory, that a test
//! can kill and restart.

use std::io::Read;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Process;
use crate::{free_port, on_free_ports, tool};

/// A nats-server (JetStream enabled) this test owns. Killed when dropped.
pub struct NatsServer {
    port: u16,
    process: Process,
    _store: TempDir,
}

impl NatsServer {
    /// Starts nats-server (`MICRO_TEST_NATS_BIN`, or `nats-server` on PATH); `None` when it is not
    /// installed and tools are not required.
    pub fn start() -> Option<NatsServer> {
        let binary = tool("MICRO_TEST_NATS_BIN", "nats-server")?;
        let store = tempfile::tempdir().expect("a temporary directory");
        let store_path = store.path().to_owned();
        let (port, process) = on_free_ports("nats-server", || {
            let port = free_port();
            let (binary, store_path) = (binary.clone(), store_path.clone());
            let command = move || {
                let mut command = Command::new(&binary);
                command
                    .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                    .arg(&store_path);
                command
            };
            let ready = move || greets_as_nats(port);
            Process::try_start("nats-server", command, ready).map(|process| (port, process))
        });
        Some(NatsServer {
            port,
            process,
            _store: store,
        })
    }

    /// `127.0.0.1:PORT`, for `--broker-address` and `--events-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills nats-server abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts nats-server again on the same port with the same store directory, so JetStream
    /// streams, consumers and messages survive.
    pub fn restart(&mut self) {
        self.process.restart();
    }
}

/// Whether a NATS server answers on `port`: it greets every connection with `INFO {…}`.
fn greets_as_nats(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut greeting = [0; 5];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"INFO "
}
