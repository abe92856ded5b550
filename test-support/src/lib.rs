//! What micro-rs's tests share: real servers started on loopback with temporary data, the
//! third-party tools interop tests drive, auth keys made by openssl, and network namespaces that keep mDNS off the real
//! network card and in which tests may partition servers with the packet filter.
//!
//! Servers and tools come from `scripts/test.sh`, which installs them and says where they are
//! through `MICRO_TEST_*` variables. Without them a test that needs one is skipped with a note,
//! unless `MICRO_TEST_REQUIRE_TOOLS=1` (which the script sets) makes that a failure.

mod etcd;
mod etcd_cluster;
mod jaeger;
mod keys;
mod nats;
mod nats_cluster;
mod netns;
mod partition;
mod pki;
mod postgres;
mod process;
mod redis;
mod tools;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

pub use etcd::EtcdServer;
pub use etcd_cluster::EtcdCluster;
pub use jaeger::JaegerServer;
pub use keys::rsa_key_pair;
pub use nats::NatsServer;
pub use nats_cluster::NatsCluster;
pub use netns::{
    in_network_namespace, run_in_isolated_network_namespace, run_in_network_namespace,
    run_in_privileged_network_namespace,
};
pub use pki::{Issued, Pki};
pub use postgres::PostgresServer;
pub use redis::RedisServer;
pub use tools::{output_within, python_with, require_or_skip, tool};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// Runs `start` until it gives a server, at most three times: `start` picks free ports and
/// returns `None` when the server exited before it was ready, because another process took a
/// port between our choosing it and the server binding it.
pub(crate) fn on_free_ports<T>(name: &str, mut start: impl FnMut() -> Option<T>) -> T {
    for _ in 0..3 {
        if let Some(server) = start() {
            return server;
        }
    }
    panic!("{name} exited before it was ready, three times (on other free ports each time)")
}

/// The body of a plain-HTTP `GET path` on 127.0.0.1:`port`, if it answered 200: for servers'
/// health and metrics listeners.
pub(crate) fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?;
    (status == "200").then(|| body.to_owned())
}

/// Polls `done` every 10 ms until it holds, panicking with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
