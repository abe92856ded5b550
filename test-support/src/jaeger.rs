//! A real Jaeger v2 (an OpenTelemetry Collector build: OTLP receiver, in-memory trace store,
//! query API, and the collector's `debug` exporter printing the metrics it receives) on
//! loopback, built from peers/jaeger by scripts/build-peers.sh.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Process;
use crate::{free_port, on_free_ports, require_or_skip};

/// A Jaeger this test owns, receiving OTLP over gRPC and HTTP: traces into its store, metrics
/// into its log. Killed when dropped.
pub struct JaegerServer {
    grpc: u16,
    http: u16,
    query: u16,
    _process: Process,
    config: TempDir,
}

impl JaegerServer {
    /// Starts `$MICRO_TEST_GO_PEERS/jaeger`; `None` when it is not built and tools are not
    /// required.
    pub fn start() -> Option<JaegerServer> {
        let binary = binary()?;
        let config = tempfile::tempdir().expect("a temporary directory");
        let file = config.path().join("jaeger.yaml");
        let log = config.path().join("jaeger.log");
        let (ports, process) = on_free_ports("jaeger", || {
            let ports = [free_port(), free_port(), free_port(), free_port()];
            std::fs::write(&file, yaml(ports, &log)).expect("the jaeger config is written");
            let (binary, file) = (binary.clone(), file.clone());
            let command = move || {
                let mut command = Command::new(&binary);
                command.arg("--config").arg(&file);
                command
            };
            let ready =
                move || get(ports[2], "/api/services").is_some_and(|body| body.contains("data"));
            Process::try_start("jaeger", command, ready).map(|process| (ports, process))
        });
        Some(JaegerServer {
            grpc: ports[0],
            http: ports[1],
            query: ports[2],
            _process: process,
            config,
        })
    }

    /// The OTLP/gRPC endpoint, `http://127.0.0.1:PORT`.
    pub fn otlp_grpc(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    /// The OTLP/HTTP endpoint, `http://127.0.0.1:PORT` (signals go under `/v1/`).
    pub fn otlp_http(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    /// What Jaeger logged so far: among it, every metric batch it received, as the
    /// collector's `debug` exporter prints them (`verbosity: detailed`).
    pub fn log(&self) -> String {
        let path = self.config.path().join("jaeger.log");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// The query API's answer to `GET path` (e.g. `/api/traces?service=a`): its JSON body.
    pub fn query(&self, path: &str) -> String {
        get(self.query, path).unwrap_or_else(|| panic!("jaeger's query API did not answer {path}"))
    }
}

/// The jaeger binary among the Go peers.
fn binary() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("MICRO_TEST_GO_PEERS") else {
        require_or_skip("MICRO_TEST_GO_PEERS not set; run scripts/test.sh (it builds jaeger)");
        return None;
    };
    let binary = PathBuf::from(dir).join("jaeger");
    if !binary.exists() {
        require_or_skip(&format!(
            "{} missing; run scripts/build-peers.sh",
            binary.display()
        ));
        return None;
    }
    Some(binary)
}

/// Jaeger's config: OTLP in on `ports[0]` (gRPC) and `ports[1]` (HTTP), traces stored in
/// memory, metrics printed to the log file `log`; the query API on `ports[2]` (HTTP) and
/// `ports[3]` (gRPC); no metrics endpoint of its own.
fn yaml(ports: [u16; 4], log: &Path) -> String {
    let [grpc, http, query, query_grpc] = ports;
    let log = log.display();
    format!(
        "service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
    metrics:
      receivers: [otlp]
      exporters: [debug]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
      output_paths: [{log}]
      error_output_paths: [{log}]
extensions:
  jaeger_query:
    storage:
      traces: memory
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      memory:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  jaeger_storage_exporter:
    trace_storage: memory
  debug:
    verbosity: detailed
"
    )
}

/// The body of `GET path` on `127.0.0.1:port` (HTTP/1.0, so the body ends with the
/// connection), if it answered.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200")
        .then(|| body.to_owned())
        .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_owned()))
}
