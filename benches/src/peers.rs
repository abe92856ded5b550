//! micro against the frameworks users would pick instead, each in its own process, with the
//! servers on one core and the load generators on another (`taskset`).
//!
//! ```sh
//! scripts/bench.sh peers          # builds the Go peers, then runs every pairing
//! ```
//!
//! Servers: micro and raw tonic (`peer-server`), grpc-go and connect-go
//! (`peers/bench/cmd/*-server`), and go-micro v5 and v4 with their gRPC server plugin
//! (`peers/gomicro-v{5,4}/cmd/helloworld --server grpc --streamer`, memory registry), all
//! serving helloworld and streaming. Clients: micro's and tonic's (`peer-load`), grpc-go's and
//! connect-go's (`peers/bench/cmd/loadgen`; connect-go without gzip, as the others), go-micro's
//! gRPC client plugin (`peers/gomicro-v{5,4}/cmd/loadgen`), and `h2load` and `wrk` when
//! installed (`peer::external`). Every pairing runs `--rounds` times, the pairings taking
//! turns; medians are reported. CPU per request adds the client's and the server's CPU time.
//! RSS is the server's: idle after start, and its peak by the end.

// Only its reading of a process's CPU time is used here.
#[allow(dead_code)]
mod load;
mod peer;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use clap::Parser;
use peer::report::Report;

/// Peer benchmark: every client against every server it is paired with.
#[derive(Parser)]
struct Args {
    /// Rounds per pairing; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Unary calls per round (at one caller, a fifth of it).
    #[arg(long, default_value_t = 50_000)]
    requests: u64,
    /// Stream messages per round.
    #[arg(long, default_value_t = 500_000)]
    messages: u64,
    /// The Go peers' directory (default `$MICRO_TEST_GO_PEERS`, else
    /// `~/.cache/micro-rs/peers/bin`).
    #[arg(long)]
    peers: Option<PathBuf>,
    /// Don't pin servers and clients to separate cores.
    #[arg(long)]
    no_pin: bool,
    /// Run only the scenarios whose title contains this.
    #[arg(long)]
    only: Option<String>,
    /// micro's server gathers HTTP/2 replies into fewer writes (`Service::gather_writes`).
    #[arg(long)]
    gather_writes: bool,
}

/// A server under test.
struct Server {
    name: &'static str,
    addr: std::net::SocketAddr,
    child: tokio::process::Child,
    idle_rss_kib: u64,
}

/// One line of a table: a client against a server.
#[derive(Clone, Copy)]
struct Pairing {
    client: &'static str,
    server: &'static str,
}

const fn pair(client: &'static str, server: &'static str) -> Pairing {
    Pairing { client, server }
}

/// Each framework against itself, then every client against micro's server, and micro's
/// client against go-micro's server.
const UNARY: &[Pairing] = &[
    pair("micro", "micro"),
    pair("tonic", "tonic"),
    pair("grpc-go", "grpc-go"),
    pair("connect-grpc", "connect-go"),
    pair("go-micro v5", "go-micro v5"),
    pair("go-micro v4", "go-micro v4"),
    pair("tonic", "micro"),
    pair("grpc-go", "micro"),
    pair("connect-grpc", "micro"),
    pair("go-micro v5", "micro"),
    pair("micro", "go-micro v5"),
    pair("micro, 1 connection", "micro"),
];
/// Streams: each framework against itself, then micro's server and client across from tonic's
/// (which side a gap is on), and grpc-go's client against micro's server.
const STREAMS: &[Pairing] = &[
    pair("micro", "micro"),
    pair("tonic", "tonic"),
    pair("grpc-go", "grpc-go"),
    pair("connect-grpc", "connect-go"),
    pair("tonic", "micro"),
    pair("go-micro v5", "go-micro v5"),
    pair("micro", "tonic"),
    pair("grpc-go", "micro"),
    pair("go-micro v5", "micro"),
];
const CONNECT_JSON: &[Pairing] = &[
    pair("connect-json", "connect-go"),
    pair("connect-json", "micro"),
];
/// The gRPC servers under h2load.
const H2LOAD: &[Pairing] = &[
    pair("h2load", "micro"),
    pair("h2load", "tonic"),
    pair("h2load", "grpc-go"),
    pair("h2load", "connect-go"),
    pair("h2load", "go-micro v5"),
];
/// The Connect JSON servers under wrk.
const WRK: &[Pairing] = &[pair("wrk", "micro"), pair("wrk", "connect-go")];

/// Load generators nobody here wrote.
fn external(client: &str) -> bool {
    matches!(client, "h2load" | "wrk")
}

/// Whether a pairing measures a peer on its own: its client and server from one framework, or
/// an external load generator against a peer's server. The best of these is what micro's
/// pairings are compared with.
fn baseline(pairing: &Pairing) -> bool {
    let Pairing { client, server } = *pairing;
    let framework = |name: &str| name.split('-').next().unwrap_or(name).to_owned();
    server != "micro"
        && client != "micro"
        && (external(client) || client == server || framework(client) == framework(server))
}

struct Bench {
    args: Args,
    own: PathBuf,
    go: PathBuf,
    pin: bool,
    servers: Vec<Server>,
    inputs: peer::external::Inputs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let own = std::env::current_exe()?
        .parent()
        .expect("the binary's directory")
        .to_owned();
    let go = peer::go_peers_dir(args.peers.as_deref())
        .filter(|dir| dir.join("loadgen").exists())
        .ok_or_else(|| anyhow::anyhow!("the Go peers are not built: run scripts/build-peers.sh"))?;
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let pin = !args.no_pin && cpus >= 2 && peer::external::available(Path::new("taskset"));
    let mut bench = Bench {
        args,
        own,
        go,
        pin,
        servers: Vec::new(),
        inputs: peer::external::Inputs::write()?,
    };
    bench.start_servers().await?;
    println!(
        "Peers: servers {}, load generators {}; {} rounds per pairing, medians\n",
        if pin { "on core 1" } else { "unpinned" },
        if pin { "on core 0" } else { "unpinned" },
        bench.args.rounds
    );
    for concurrency in [1, 32, 256] {
        let requests = if concurrency == 1 {
            bench.args.requests / 5
        } else {
            bench.args.requests
        };
        let title = format!("Unary (Helloworld.Greeting, protobuf), {concurrency} callers");
        bench
            .scenario(&title, UNARY, "unary", concurrency, requests)
            .await?;
    }
    for concurrency in [32, 256] {
        let title = format!("Connect unary JSON, {concurrency} callers");
        let requests = bench.args.requests;
        bench
            .scenario(&title, CONNECT_JSON, "unary", concurrency, requests)
            .await?;
    }
    let messages = bench.args.messages;
    let title = "Server streaming (Streamer.Count, 1000 messages per call), 32 callers, messages/s";
    bench
        .scenario(title, STREAMS, "server-stream", 32, messages)
        .await?;
    let title =
        "Bidi streaming (Streamer.Shout, one round trip per message), 32 callers, messages/s";
    bench
        .scenario(title, STREAMS, "bidi", 32, messages / 5)
        .await?;
    for streams in [32, 256] {
        let title = format!(
            "Unary gRPC under h2load (1 connection, {streams} streams; p50 is h2load's mean)"
        );
        let requests = bench.args.requests * 2;
        bench
            .scenario(&title, H2LOAD, "unary", streams, requests)
            .await?;
    }
    // wrk runs for a time, given where the others take a number of requests.
    let title = "Connect unary JSON under wrk (HTTP/1.1, 32 connections, 5 s)";
    bench.scenario(title, WRK, "unary", 32, 5).await?;
    bench.memory();
    Ok(())
}

impl Bench {
    async fn start_servers(&mut self) -> anyhow::Result<()> {
        let own = self.own.join("peer-server");
        let go_micro = vec![
            "--server",
            "grpc",
            "--registry",
            "memory",
            "--streamer",
            "--address",
            "127.0.0.1:0",
        ];
        let mut micro = vec!["--stack", "micro", "--listen", "127.0.0.1:0"];
        if self.args.gather_writes {
            micro.push("--gather-writes");
        }
        let launches: [(&'static str, PathBuf, Vec<&str>); 6] = [
            ("micro", own.clone(), micro),
            (
                "tonic",
                own,
                vec!["--stack", "tonic", "--listen", "127.0.0.1:0"],
            ),
            (
                "grpc-go",
                self.go.join("grpc-go-server"),
                vec!["-listen", "127.0.0.1:0"],
            ),
            (
                "connect-go",
                self.go.join("connect-go-server"),
                vec!["-listen", "127.0.0.1:0"],
            ),
            (
                "go-micro v5",
                self.go.join("gomicro5-helloworld"),
                go_micro.clone(),
            ),
            ("go-micro v4", self.go.join("gomicro4-helloworld"), go_micro),
        ];
        for (name, binary, arguments) in launches {
            let command = self.pinned(1, &binary, &arguments);
            let (addr, child) = peer::start_listening(command).await?;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let idle_rss_kib = status_kib(child.id(), "VmRSS");
            self.servers.push(Server {
                name,
                addr,
                child,
                idle_rss_kib,
            });
        }
        Ok(())
    }

    /// `binary arguments`, on core `core` when pinning.
    fn pinned(&self, core: usize, binary: &Path, arguments: &[&str]) -> tokio::process::Command {
        let mut command = match self.pin {
            true => {
                let mut command = tokio::process::Command::new("taskset");
                command.arg("-c").arg(core.to_string()).arg(binary);
                command
            }
            false => tokio::process::Command::new(binary),
        };
        command.args(arguments);
        command
    }

    fn server(&self, name: &str) -> &Server {
        self.servers
            .iter()
            .find(|s| s.name == name)
            .expect("a started server")
    }

    async fn scenario(
        &self,
        title: &str,
        pairings: &[Pairing],
        rpc: &str,
        concurrency: u64,
        requests: u64,
    ) -> anyhow::Result<()> {
        if self
            .args
            .only
            .as_ref()
            .is_some_and(|only| !title.contains(only.as_str()))
        {
            return Ok(());
        }
        if let Some(missing) = pairings
            .iter()
            .find(|p| external(p.client) && !peer::external::available(Path::new(p.client)))
        {
            println!("{title}: skipped, {} is not installed\n", missing.client);
            return Ok(());
        }
        println!("{title}");
        let mut measured: Vec<Vec<(Report, f64)>> = pairings.iter().map(|_| Vec::new()).collect();
        for round in 0..self.args.rounds {
            for turn in 0..pairings.len() {
                let index = (round + turn) % pairings.len();
                let run = self
                    .run(pairings[index], rpc, concurrency, requests)
                    .await?;
                measured[index].push(run);
            }
        }
        let medians: Vec<(Report, f64)> = measured.into_iter().map(median).collect();
        let best_peer = pairings
            .iter()
            .zip(&medians)
            .filter(|(p, _)| baseline(p))
            .map(|(_, (report, _))| report.per_second)
            .fold(0.0, f64::max);
        println!(
            "  {:<30} {:>10} {:>9} {:>9} {:>9} {:>9}  vs best peer",
            "client -> server", "per sec", "p50", "p99", "CPU/req", "server"
        );
        for (pairing, (report, server_cpu)) in pairings.iter().zip(&medians) {
            let per = |cpu: f64| cpu / report.requests as f64 * 1e6;
            let ratio = match best_peer > 0.0 {
                true => format!("{:.3}x", report.per_second / best_peer),
                false => String::new(),
            };
            println!(
                "  {:<30} {:>10.0} {:>9} {:>9} {:>7.2}µs {:>7.2}µs  {ratio}",
                format!("{} -> {}", pairing.client, pairing.server),
                report.per_second,
                micros(report.p50_us),
                micros(report.p99_us),
                per(report.cpu_seconds + server_cpu),
                per(*server_cpu),
            );
        }
        println!();
        Ok(())
    }

    /// One run of `pairing`: the client's report and the server's CPU seconds meanwhile.
    async fn run(
        &self,
        pairing: Pairing,
        rpc: &str,
        concurrency: u64,
        requests: u64,
    ) -> anyhow::Result<(Report, f64)> {
        let server = self.server(pairing.server);
        let target = server.addr.to_string();
        let mut command = self.load_command(pairing, &target, rpc, concurrency, requests);
        let before = cpu_seconds(server.child.id());
        let output = command.stderr(Stdio::inherit()).output().await?;
        let server_cpu = cpu_seconds(server.child.id()) - before;
        anyhow::ensure!(
            output.status.success(),
            "{} -> {} ({rpc}) failed: {}",
            pairing.client,
            pairing.server,
            output.status
        );
        let text = String::from_utf8_lossy(&output.stdout);
        let report = match pairing.client {
            "h2load" => peer::external::parse_h2load(&text)?,
            "wrk" => peer::external::parse_wrk(&text)?,
            client => serde_json::from_str(text.trim())
                .map_err(|err| anyhow::anyhow!("{client} printed {text:?}: {err}"))?,
        };
        Ok((report, server_cpu))
    }

    /// The command that runs `pairing`'s load generator against `target`.
    fn load_command(
        &self,
        pairing: Pairing,
        target: &str,
        rpc: &str,
        concurrency: u64,
        requests: u64,
    ) -> tokio::process::Command {
        if let external @ ("h2load" | "wrk") = pairing.client {
            let arguments = match external {
                "h2load" => self.inputs.h2load(target, concurrency, requests),
                _ => self.inputs.wrk(target, concurrency, requests),
            };
            let sh = peer::external::timed(external, arguments);
            let sh: Vec<&str> = sh.iter().map(String::as_str).collect();
            return self.pinned(0, Path::new("sh"), &sh);
        }
        let (concurrency, requests) = (concurrency.to_string(), requests.to_string());
        match pairing.client {
            client @ ("micro" | "micro, 1 connection" | "tonic") => {
                let common = [
                    "--client",
                    client.split(',').next().unwrap_or(client),
                    "--target",
                    target,
                    "--rpc",
                    rpc,
                    "--concurrency",
                    &concurrency,
                    "--requests",
                    &requests,
                ];
                // The pool's one connection, where micro's opens more above 100 callers.
                let pool = match client {
                    "micro, 1 connection" => &["--pool-size", "1"][..],
                    _ => &[],
                };
                self.pinned(
                    0,
                    &self.own.join("peer-load"),
                    &[&common[..], pool].concat(),
                )
            }
            go => {
                // go-micro's load generators speak gRPC through its client plugin; the
                // others pick grpc-go or connect-go with -client.
                let (loadgen, client, options) = match go {
                    "go-micro v5" => ("gomicro5-loadgen", "grpc", &[][..]),
                    "go-micro v4" => ("gomicro4-loadgen", "grpc", &[][..]),
                    other => ("loadgen", other, &["-gzip=false"][..]),
                };
                let common = [
                    "-client",
                    client,
                    "-target",
                    target,
                    "-rpc",
                    rpc,
                    "-concurrency",
                    &concurrency,
                    "-requests",
                    &requests,
                ];
                self.pinned(0, &self.go.join(loadgen), &[&common[..], options].concat())
            }
        }
    }

    fn memory(&self) {
        println!("Server memory (RSS): idle after start, and peak by the end of the runs");
        for server in &self.servers {
            println!(
                "  {:<12} idle {:>7} KiB   peak {:>7} KiB",
                server.name,
                server.idle_rss_kib,
                status_kib(server.child.id(), "VmHWM")
            );
        }
    }
}

/// A latency in whole microseconds, or `—` when the load generator does not give it.
fn micros(value: f64) -> String {
    match value.is_nan() {
        true => "—".to_owned(),
        false => format!("{value:.0}µs"),
    }
}

/// The run with the median throughput.
fn median(mut runs: Vec<(Report, f64)>) -> (Report, f64) {
    runs.sort_by(|a, b| a.0.per_second.total_cmp(&b.0.per_second));
    runs.swap_remove(runs.len() / 2)
}

/// A process's user + system CPU seconds.
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let stat = format!("/proc/{}/stat", pid.unwrap_or_default());
    load::process_cpu_time(&stat).as_secs_f64()
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: Option<u32>, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.unwrap_or_default()))
        .unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}
