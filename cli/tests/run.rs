//! `micro run` as a developer uses it: a crate made by `micro new` is built, run behind the
//! gateway (registry: mDNS, the default, in a network namespace), and rebuilt and restarted
//! when its source is edited; a `micro.mu` project starts
//! its services in dependency order with the chosen environment's variables.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use micro_test_support::{free_port, in_network_namespace, run_in_network_namespace};
use support::MICRO;

/// `micro run <args>` in the background, stopped with SIGTERM (or killed) on drop.
struct Running {
    child: Child,
}

impl Running {
    fn start(args: &[&str], dir: &Path) -> Running {
        let child = Command::new(MICRO)
            .arg("run")
            .arg(dir)
            .args(args)
            .env("CARGO_TARGET_DIR", target_dir())
            .env("CARGO_NET_OFFLINE", "true")
            .env_remove("MICRO_REGISTRY")
            .env_remove("MICRO_REGISTRY_ADDRESS")
            .stdin(Stdio::null())
            .spawn()
            .expect("micro runs");
        Running { child }
    }

    /// SIGTERM, then the exit status within `within`.
    fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "micro run did not stop within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// This workspace's target directory, where micro is already built.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// POSTs `body` to the gateway's `path` with curl; the reply, if it answered 200.
fn post(gateway: &str, path: &str, body: &str) -> Option<String> {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "5", "-f", "-d", body])
        .arg(format!("{gateway}{path}"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Polls until `check` gives a value, for at most `within`.
fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// In a network namespace of its own, so the default registry (mDNS) stays off the network
/// card: the scaffolded crate is built with micro's default features, as a user's is.
#[test]
fn an_edited_service_is_rebuilt_and_restarted_behind_the_gateway() {
    if !in_network_namespace() {
        return run_in_network_namespace(
            "an_edited_service_is_rebuilt_and_restarted_behind_the_gateway",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("greeter");
    support::ok(&support::run(
        Command::new(MICRO)
            .args(["new", "greeter", "--no-proto", "--micro-path"])
            .arg(repo())
            .arg("--dir")
            .arg(&crate_dir),
        None,
    ));
    std::fs::copy(repo().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();

    let gateway_address = format!("127.0.0.1:{}", free_port());
    let gateway = format!("http://{gateway_address}");
    let mut running = Running::start(&["--address", &gateway_address], dir.path());
    let call = || post(&gateway, "/greeter/Greeter.Call", r#"{"name":"alice"}"#);
    let first = eventually(Duration::from_secs(600), "the service answers", call);
    assert_eq!(first.trim(), r#"{"message":"Hello alice"}"#);
    let binary = target_dir().join("debug/greeter");
    let first_pid = running_pids(&binary);
    assert_eq!(first_pid.len(), 1, "one greeter runs");

    let main = crate_dir.join("src/main.rs");
    let source = std::fs::read_to_string(&main).unwrap();
    let edited = source.replace("format!(\"Hello {}\"", "format!(\"Howdy {}\"");
    assert_ne!(source, edited, "the template's greeting moved");
    std::fs::write(&main, edited).unwrap();
    let howdy = || call().filter(|reply| reply.contains("Howdy"));
    let second = eventually(
        Duration::from_secs(300),
        "the edited service answers",
        howdy,
    );
    assert_eq!(second.trim(), r#"{"message":"Howdy alice"}"#);
    let second_pid = running_pids(&binary);
    assert_eq!(
        second_pid.len(),
        1,
        "the old process was stopped: {second_pid:?}"
    );
    assert_ne!(first_pid, second_pid, "a new process serves");

    // A broken edit keeps the running version.
    std::fs::write(&main, "this does not compile").unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let kept = call();
    assert_eq!(
        kept.as_deref().map(str::trim),
        Some(r#"{"message":"Howdy alice"}"#)
    );
    assert_eq!(running_pids(&binary), second_pid);

    assert!(running.terminate(Duration::from_secs(15)).success());
    assert!(
        running_pids(&binary).is_empty(),
        "micro run stopped its service"
    );
}

/// The ids of the processes running `binary`.
fn running_pids(binary: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            (exe == binary).then_some(pid)
        })
        .collect()
}

/// Serves `200` on `/health/ready` on the port in argv[1], after noting it started.
const READY_PY: &str = r#"
import http.server, sys
open("log", "a").write("ready-server started\n")
class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health/ready" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ready).serve_forever()
"#;

#[test]
fn micro_mu_starts_dependencies_first_with_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(dir.path().join("ready.py"), READY_PY).unwrap();
    let mu = format!(
        "# a project
service web
    path .
    depends api
    run echo \"web sees $GREETING\" >> log; exec sleep 300

service api
    path .
    port {port}
    run exec python3 ready.py {port}

env development
    GREETING hello

env production
    GREETING bonjour
"
    );
    std::fs::write(dir.path().join("micro.mu"), mu).unwrap();
    let log = dir.path().join("log");

    let mut running = Running::start(&["--no-gateway", "--registry", "memory"], dir.path());
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let lines = eventually(Duration::from_secs(30), "web starts", || {
        let text = read_log();
        text.contains("web sees").then_some(text)
    });
    assert_eq!(lines, "ready-server started\nweb sees hello\n");
    assert!(running.terminate(Duration::from_secs(15)).success());

    std::fs::remove_file(&log).unwrap();
    let mut production = Running::start(
        &[
            "--no-gateway",
            "--registry",
            "memory",
            "--env",
            "production",
        ],
        dir.path(),
    );
    eventually(Duration::from_secs(30), "web starts in production", || {
        read_log().contains("web sees bonjour").then_some(())
    });
    assert!(production.terminate(Duration::from_secs(15)).success());

    let unknown = support::run(
        Command::new(MICRO)
            .args([
                "run",
                "--no-gateway",
                "--registry",
                "memory",
                "--env",
                "staging",
            ])
            .arg(dir.path()),
        None,
    );
    let error = support::failed(&unknown);
    assert!(
        error.contains("no environment `staging`") && error.contains("development"),
        "{error}"
    );
}
