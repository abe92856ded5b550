//! A real PostgreSQL on loopback, in a temporary cluster made by initdb, that a test can kill
//! and restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Process;
use crate::{free_port, tool};

/// A PostgreSQL server this test owns, user `postgres` with trust auth. Killed when dropped.
pub struct PostgresServer {
    port: u16,
    process: Process,
    _data: TempDir,
}

impl PostgresServer {
    /// Makes a cluster with initdb and starts `postgres` (`MICRO_TEST_POSTGRES_BIN`, or
    /// `postgres` on PATH; initdb is beside it) with fsync off; `None` when it is not installed
    /// and tools are not required. As root, both run as the `postgres` user (they refuse root).
    pub fn start() -> Option<PostgresServer> {
        let binary = tool("MICRO_TEST_POSTGRES_BIN", "postgres")?;
        let data = tempfile::tempdir().expect("a temporary directory");
        let cluster = data.path().to_owned();
        init_cluster(&binary, &cluster);
        let port = free_port();
        let command = move || {
            let mut command = as_postgres_user(&binary);
            command
                .arg("-D")
                .arg(&cluster)
                .arg("-k")
                .arg(&cluster)
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
            command
        };
        Some(PostgresServer {
            port,
            process: Process::start("postgres", command, move || accepts_logins(port)),
            _data: data,
        })
    }

    /// `postgresql://postgres@127.0.0.1:PORT/postgres`, for `--store-address`.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills postgres abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts postgres again on the same port and cluster; committed data survives.
    pub fn restart(&mut self) {
        self.process.restart();
    }
}

/// Runs initdb (beside `postgres`) into `cluster`, owned by the user that will run the server.
fn init_cluster(postgres: &Path, cluster: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(cluster)
            .status()
            .expect("chown runs");
        assert!(status.success(), "chown of the postgres cluster failed");
    }
    // Debian links `postgres` onto PATH but keeps initdb beside the real binary.
    let postgres = std::fs::canonicalize(postgres).unwrap_or_else(|_| postgres.to_owned());
    let initdb = postgres.with_file_name("initdb");
    let output = as_postgres_user(&initdb)
        .arg("-D")
        .arg(cluster)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("{} does not start: {err}", initdb.display()));
    assert!(
        output.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `program`, run as the `postgres` user when we are root (setpriv execs it, so killing the
/// process kills the server itself).
fn as_postgres_user(program: &Path) -> Command {
    if !is_root() {
        return Command::new(program);
    }
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
    command
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// Whether the server at `port` lets `postgres` log in (not "the database system is starting
/// up"): a protocol 3.0 startup message answered by an authentication message.
fn accepts_logins(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let body = b"\x00\x03\x00\x00user\0postgres\0database\0postgres\0\0";
    let length = u32::try_from(body.len() + 4).expect("a short message");
    let mut reply = [0; 1];
    stream.write_all(&length.to_be_bytes()).is_ok()
        && stream.write_all(body).is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && reply[0] == b'R'
}
