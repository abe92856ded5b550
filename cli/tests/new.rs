//! `micro new` makes a crate that builds and passes its own test as generated; with
//! `--no-proto`, one without proto or build script that answers go-micro's curl when run.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{assert_golden, ok};

#[test]
fn new_service_builds_and_passes_its_test() {
    let dir = tempfile::tempdir().unwrap();
    let (crate_dir, printed) = new_crate(dir.path(), "order-service", &[]);
    assert_golden("new.txt", &printed);
    for file in [
        "Cargo.toml",
        "build.rs",
        "proto/order-service.proto",
        "src/lib.rs",
        "src/main.rs",
        "tests/order-service.rs",
        "README.md",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} was not made");
    }
    let tested = cargo(&crate_dir, &["test"]);
    assert!(
        tested.contains("1 passed"),
        "its test did not run:\n{tested}"
    );

    // The directory is not overwritten.
    let again = support::run(
        Command::new(support::MICRO)
            .args(["new", "order-service", "--dir"])
            .arg(&crate_dir),
        None,
    );
    assert!(support::failed(&again).contains("already exists"));
    let bad = support::run(Command::new(support::MICRO).args(["new", "Bad_Name"]), None);
    assert!(support::failed(&bad).contains("not a valid service name"));
}

#[test]
fn new_service_without_proto_answers_go_micros_curl() {
    let dir = tempfile::tempdir().unwrap();
    let (crate_dir, printed) = new_crate(dir.path(), "plain-greeter", &["--no-proto"]);
    assert_golden("new_no_proto.txt", &printed);
    let mut made = files(&crate_dir);
    made.sort();
    assert_eq!(
        made,
        [".gitignore", "Cargo.toml", "README.md", "src/main.rs"],
        "no build.rs, proto/ or generated code"
    );
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("micro-build"), "{manifest}");
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
    assert!(
        readme.contains("-H 'Micro-Endpoint: PlainGreeter.Call'"),
        "{readme}"
    );

    let tested = cargo(&crate_dir, &["test"]);
    assert!(
        tested.contains("1 passed"),
        "its test did not run:\n{tested}"
    );
    cargo(&crate_dir, &["build"]);
    let binary = target_dir().join("debug/plain-greeter");
    let mut service = Served::start(&binary, &["--registry", "memory"]);

    // go-micro's README call, with this service's endpoint and port.
    let url = format!("http://localhost:{}", service.addr.port());
    let (code, body) = curl("PlainGreeter.Call", r#"{"name":"alice"}"#, &url);
    assert_eq!(
        (code.as_str(), json(&body)),
        ("200", serde_json::json!({ "message": "Hello alice" }))
    );
    // A request without a name is refused in go-micro's error shape.
    let (code, body) = curl("PlainGreeter.Call", "{}", &url);
    assert_eq!(
        (code.as_str(), json(&body)),
        (
            "400",
            serde_json::json!({
                "id": "plain-greeter",
                "code": 400,
                "detail": "name is required",
                "status": "Bad Request",
            })
        )
    );

    let (status, logs) = service.stop();
    assert!(
        status.success(),
        "it did not stop cleanly on SIGTERM: {status}\n{logs}"
    );
}

/// `--micro-git` with a `file://` URL of this repository at its `HEAD`: cargo fetches `micro`
/// and `micro-build` from it (finding them by name) and the crate builds. No network is used
/// though cargo runs online, as it must to fetch git: the registry packages are pinned by this
/// workspace's lock file and already in cargo's cache, and a dead HTTP proxy fails anything
/// else.
#[test]
fn new_service_builds_from_a_git_dependency() {
    let Some(rev) = head_commit() else {
        eprintln!("skipped: {} is not a git checkout", repo().display());
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("git-greeter");
    let url = format!("file://{}", repo().display());
    ok(&support::run(
        Command::new(support::MICRO)
            .args(["new", "git-greeter", "--micro-git", &url])
            .args(["--micro-rev", &rev])
            .arg("--dir")
            .arg(&crate_dir)
            .env_remove("MICRO_RS_PATH"),
        None,
    ));
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let dependency = format!("{{ git = \"{url}\", rev = \"{rev}\" }}");
    for name in ["micro", "micro-build"] {
        assert!(
            manifest.contains(&format!("\n{name} = {dependency}\n")),
            "{manifest}"
        );
    }
    std::fs::copy(repo().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();

    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_NET_OFFLINE")
        .env("CARGO_HTTP_PROXY", "http://127.0.0.1:9")
        .env("CARGO_NET_RETRY", "0")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo build fails with micro from git:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lock = std::fs::read_to_string(crate_dir.join("Cargo.lock")).unwrap();
    let source = format!("source = \"git+{url}?rev={rev}#{rev}\"");
    assert!(
        lock.contains(&source),
        "micro does not come from {url}:\n{lock}"
    );
}

/// The commit `HEAD` of this repository, unless it is not a git checkout.
fn head_commit() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo())
        .output()
        .ok()?;
    let rev = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !rev.is_empty()).then_some(rev)
}

/// Runs `micro new <name> <flags>` into `<parent>/<name>`, depending on this checkout, and
/// gives the crate this workspace's lock file: the dependency versions already built here.
/// Returns the crate's directory and what `micro new` printed, with that directory as `DIR`.
fn new_crate(parent: &Path, name: &str, flags: &[&str]) -> (PathBuf, String) {
    let crate_dir = parent.join(name);
    let output = support::run(
        Command::new(support::MICRO)
            .arg("new")
            .args(flags)
            .arg(name)
            .arg("--micro-path")
            .arg(repo())
            .arg("--dir")
            .arg(&crate_dir),
        None,
    );
    let printed = ok(&output).replace(&crate_dir.display().to_string(), "DIR");
    std::fs::copy(repo().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    (crate_dir, printed)
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// This workspace's target directory, where its dependencies are already built.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// Runs `cargo <args> --offline --quiet` in `crate_dir`; asserts it succeeds and returns its
/// stdout.
fn cargo(crate_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .args(["--offline", "--quiet"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "cargo {args:?} fails in the new crate:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The files under `dir`, as relative paths with `/`.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "Cargo.lock" {
            continue;
        }
        if path.is_dir() {
            found.extend(files(&path).into_iter().map(|f| format!("{name}/{f}")));
        } else {
            found.push(name);
        }
    }
    found
}

/// POSTs `body` to `url` with the real curl, as go-micro's README does; returns the HTTP
/// status and the reply.
fn curl(endpoint: &str, body: &str, url: &str) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}", "-XPOST"])
        .args(["-H", "Content-Type: application/json"])
        .args(["-H", &format!("Micro-Endpoint: {endpoint}")])
        .args(["-d", body, url])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (reply, code) = text.rsplit_once('\n').unwrap();
    (code.to_owned(), reply.to_owned())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

/// The generated binary, serving on a free loopback port; killed if the test fails.
struct Served {
    child: Child,
    addr: SocketAddr,
    /// Its log lines not read yet.
    logs: mpsc::Receiver<String>,
}

impl Served {
    /// Starts `binary` on `127.0.0.1:0` with `args` and waits (30 s at most) for the port it
    /// logs.
    fn start(binary: &Path, args: &[&str]) -> Served {
        let mut child = Command::new(binary)
            .args(["--server-address", "127.0.0.1:0"])
            .args(args)
            .env("MICRO_LOG_LEVEL", "info")
            .env_remove("MICRO_REGISTRY")
            .env_remove("MICRO_REGISTRY_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("{} does not run: {err}", binary.display()));
        let (lines, logs) = mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            // Reads to the end even when no one listens: a closed pipe would fail its logging.
            for line in stderr.lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        // Made before the wait, so that a failed wait still kills the child.
        let mut served = Served {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            logs,
        };
        served.addr = listening_address(&served.logs);
        served
    }

    /// Sends SIGTERM, as Ctrl-C or an orchestrator would, and waits (10 s at most) for the exit;
    /// returns how it exited and what it logged meanwhile.
    fn stop(&mut self) -> (ExitStatus, String) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader sends the last lines once it sees the pipe close.
                let logs =
                    std::iter::from_fn(|| self.logs.recv_timeout(Duration::from_secs(1)).ok());
                return (status, logs.collect::<Vec<_>>().join("\n"));
            }
            assert!(Instant::now() < deadline, "no exit within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in the service's `listening on <address>` log line.
fn listening_address(logs: &mpsc::Receiver<String>) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        let line = logs.recv_timeout(wait).unwrap_or_else(|err| {
            panic!("no `listening on` within 30 s ({err}); it logged:\n{seen:#?}")
        });
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            return addr
                .parse()
                .unwrap_or_else(|err| panic!("bad address in `{line}`: {err}"));
        }
        seen.push(line);
    }
}
