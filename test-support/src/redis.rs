//! A real redis-server on loopback, persisting to a temporary directory, that a test can kill
//! and restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Process;
use crate::{free_port, on_free_ports, tool};

/// A redis-server this test owns. Killed when dropped.
pub struct RedisServer {
    port: u16,
    process: Process,
    _data: TempDir,
}

impl RedisServer {
    /// Starts redis-server (`MICRO_TEST_REDIS_BIN`, or `redis-server` on PATH) with an
    /// append-only file synced on every write; `None` when it is not installed and tools are
    /// not required.
    pub fn start() -> Option<RedisServer> {
        let binary = tool("MICRO_TEST_REDIS_BIN", "redis-server")?;
        let data = tempfile::tempdir().expect("a temporary directory");
        let data_path = data.path().to_owned();
        let (port, process) = on_free_ports("redis-server", || {
            let port = free_port();
            let (binary, data_path) = (binary.clone(), data_path.clone());
            let command = move || {
                let mut command = Command::new(&binary);
                command
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args([
                        "--save",
                        "",
                        "--appendonly",
                        "yes",
                        "--appendfsync",
                        "always",
                    ])
                    .arg("--dir")
                    .arg(&data_path);
                command
            };
            let address = format!("127.0.0.1:{port}");
            let ready = move || answers_ping(&address);
            Process::try_start("redis-server", command, ready).map(|process| (port, process))
        });
        Some(RedisServer {
            port,
            process,
            _data: data,
        })
    }

    /// `127.0.0.1:PORT`, for `--events-address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills redis-server abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts redis-server again on the same port and directory; what was synced survives.
    pub fn restart(&mut self) {
        self.process.restart();
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
