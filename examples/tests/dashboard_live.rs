//! The dashboard's login, publish form, streaming calls and live updates in headless Chromium.
//! The `streaming` example runs with JWT auth (anonymous calls refused), registered in etcd;
//! the dashboard runs in-process with the same keys (`micro dashboard --auth-public-key …
//! --auth-private-key …`), a broker subscriber in the test waits for what the page publishes,
//! and playwright-core drives the page (`tests/dashboard/live.mjs`): a wrong secret refused, the
//! right one let in, a published message received, Count's replies shown one by one, Shout's
//! upper-cased, Sum's total, a long stream stopped, `helloworld` appearing and disappearing
//! without a reload as it registers and deregisters, and logout.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Parser as _;
use micro::auth::{Auth as _, GenerateOptions, JwtAuth};
use micro_test_support::{EtcdServer, tool};
use serde_json::Value;
use support::{Example, playwright};

/// Serves the dashboard with login on a free loopback port, configured through the CLI's
/// options as `micro dashboard` is; its URL.
async fn start_dashboard(etcd: &str, public: &str, private: &str) -> String {
    let cli = micro_cli::Cli::parse_from([
        "micro",
        "--registry",
        "etcd",
        "--registry-address",
        etcd,
        "dashboard",
        "--auth-public-key",
        public,
        "--auth-private-key",
        private,
    ]);
    let micro_cli::Command::Dashboard(args) = &cli.command else {
        panic!("not the dashboard command: {cli:?}");
    };
    let login = micro_cli::dashboard::Login::from_keys(&args.keys).unwrap();
    assert!(login.required());
    let env = micro_cli::Env::new(&cli.global).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let app = micro_cli::dashboard::router_with(env, login);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Subscribes to `topic` through the http broker, as a service would; the bodies and headers
/// received.
async fn subscribe(
    etcd: &str,
    topic: &str,
) -> (
    micro::broker::Subscriber,
    tokio::sync::mpsc::UnboundedReceiver<(String, std::collections::BTreeMap<String, String>)>,
) {
    let registry = micro::registry::build("etcd", &[etcd.to_owned()]).unwrap();
    let broker = micro::broker::build("http", &[], registry).unwrap();
    broker.connect().await.unwrap();
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    let handler = micro::broker::handler(move |event: micro::broker::Event| {
        let message = event.message();
        let body = String::from_utf8_lossy(&message.body).into_owned();
        let _ = sender.send((body, message.header.clone()));
        async { Ok(()) }
    });
    // Dropping the subscriber unsubscribes: the caller keeps it.
    let subscriber = broker
        .subscribe(topic, handler, micro::broker::SubscribeOptions::default())
        .await
        .unwrap();
    (subscriber, received)
}

/// Where the browser goes, who it logs in as, and how to start the late service.
struct Drive {
    modules: PathBuf,
    chromium: PathBuf,
    url: String,
    shots: PathBuf,
    secret: String,
    etcd: String,
}

/// Runs the driver, starting and stopping `helloworld` when it asks; its JSON result line.
fn drive(drive: &Drive) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard/live.mjs");
    let mut child = Command::new("node")
        .arg(script)
        .arg(&drive.modules)
        .arg(&drive.chromium)
        .arg(&drive.url)
        .arg(&drive.shots)
        .args(["admin", &drive.secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (scripts/test.sh installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let registry = ["--registry", "etcd", "--registry-address", &drive.etcd];
    let mut late = None;
    let mut result = None;
    for line in stdout.lines().map_while(Result::ok) {
        match line.as_str() {
            "START late" => {
                let example = Example::start(env!("CARGO_BIN_EXE_helloworld"), &registry);
                example.wait_registered(Duration::from_secs(20));
                late = Some(example);
                writeln!(stdin, "REGISTERED").unwrap();
            }
            "STOP late" => {
                let status = late.take().expect("started first").terminate();
                assert!(status.success(), "helloworld exited with {status}");
                writeln!(stdin, "STOPPED").unwrap();
            }
            line if line.starts_with('{') => result = serde_json::from_str(line).ok(),
            line => eprintln!("driver: {line}"),
        }
    }
    let status = child.wait().unwrap();
    let result: Value = result.expect("the driver printed no JSON result");
    assert!(
        status.success() && result["ok"] == true,
        "the driver failed: {result:#}"
    );
    result
}

fn text<'a>(result: &'a Value, pointer: &str) -> &'a str {
    result
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {result:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn login_publish_streams_and_live_updates_in_chromium() {
    let (Some(modules), Some(chromium)) = (playwright(), tool("MICRO_TEST_CHROMIUM", "chromium"))
    else {
        return;
    };
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let keys = tempfile::tempdir().unwrap();
    let (public, private) = micro_test_support::rsa_key_pair(keys.path());
    let auth = JwtAuth::new("micro", &public, Some(&private)).unwrap();
    let admin = auth
        .generate("admin", GenerateOptions::default())
        .await
        .unwrap();
    let registry = ["--registry", "etcd", "--registry-address", &etcd.address()];
    let with_auth = ["--auth", "jwt", "--auth-public-key", &public];
    let streaming = Example::start(
        env!("CARGO_BIN_EXE_streaming"),
        &[&registry[..], &with_auth].concat(),
    );
    streaming.wait_ready(Duration::from_secs(20));
    let (_subscriber, mut received) = subscribe(&etcd.address(), "dashboard.live").await;
    let url = start_dashboard(&etcd.address(), &public, &private).await;

    let shots = tempfile::tempdir().unwrap();
    let plan = Drive {
        modules,
        chromium,
        url,
        shots: shots.path().to_owned(),
        secret: admin.secret.clone(),
        etcd: etcd.address(),
    };
    let result = tokio::task::spawn_blocking(move || drive(&plan))
        .await
        .unwrap();
    eprintln!("driver: {result}");

    // Login: the form first, nothing without it, a wrong secret refused, the right one in.
    assert_eq!(result["loginShown"], true, "{result:#}");
    assert_eq!(result["appHidden"], true, "{result:#}");
    assert_eq!(result["servicesBeforeLogin"], 401);
    let wrong = text(&result, "/wrongLogin");
    assert!(wrong.contains("wrong account id or secret"), "{wrong}");
    assert!(!wrong.contains(&admin.secret), "the secret is echoed");
    assert_eq!(result["appHiddenAfterWrongLogin"], true);
    assert_eq!(text(&result, "/who"), "logged in as admin");
    assert_eq!(
        result["cookieReadable"], false,
        "the cookie must be HttpOnly"
    );
    assert_eq!(result["servicesAfterLogin"], 200);
    assert_eq!(result["servicesWithoutCookie"], 401);
    assert_eq!(text(&result, "/live"), "live");

    // Publish: the page shows the id, and the subscriber got the message with its headers.
    assert_eq!(
        text(&result, "/publish/status"),
        "Published to dashboard.live"
    );
    let published: Value = serde_json::from_str(text(&result, "/publish/reply")).unwrap();
    assert_eq!(published["topic"], "dashboard.live");
    let (body, headers) = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the subscriber got nothing within 10 s")
        .unwrap();
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["greeting"], "hello from chromium");
    assert_eq!(
        headers.get("Micro-Id"),
        published["id"].as_str().map(str::to_owned).as_ref()
    );
    assert_eq!(
        headers.get("Micro-Topic").map(String::as_str),
        Some("dashboard.live")
    );
    assert_eq!(
        headers.get("X-Origin").map(String::as_str),
        Some("dashboard-test"),
        "{headers:?}"
    );
    assert!(text(&result, "/badPublish").starts_with("Invalid JSON"));

    // Server streaming: replies shown as they arrive, then all five; calls carried the token
    // (the service refuses anonymous calls).
    assert!(
        text(&result, "/countWhileRunning/status").starts_with("Streaming"),
        "{result:#}"
    );
    assert_eq!(text(&result, "/count/button"), "Start stream");
    assert!(
        text(&result, "/count/status").starts_with("200 OK · 5 replies"),
        "{result:#}"
    );
    let numbers: Vec<Value> = result["count"]["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reply| {
            serde_json::from_str::<Value>(reply.as_str().unwrap()).unwrap()["number"].clone()
        })
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5].map(Value::from));

    // Bidirectional: one reply per line sent, upper-cased.
    let shouted: Vec<String> = result["shout"]["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reply| {
            serde_json::from_str::<Value>(reply.as_str().unwrap()).unwrap()["text"].to_string()
        })
        .collect();
    assert_eq!(
        shouted,
        ["\"HELLO\"", "\"MICRO DASHBOARD\"", "\"BYE\""],
        "{result:#}"
    );
    assert!(text(&result, "/shout/status").starts_with("200 OK · 3 replies"));

    // Client streaming: one reply, the total of the lines sent.
    let sum: Value = serde_json::from_str(result["sum"]["replies"][0].as_str().unwrap()).unwrap();
    assert_eq!(sum["total"], "42", "{result:#}");
    assert_eq!(sum["count"], 3, "{result:#}");

    // Stop cancels a long stream: stopped early, and nothing arrives after.
    assert_eq!(result["stopVisible"], true);
    assert!(
        text(&result, "/stopped/status").starts_with("Stopped"),
        "{result:#}"
    );
    let stopped_at = result["stopped"]["replies"].as_array().unwrap().len();
    assert!((2..1000).contains(&stopped_at), "{result:#}");
    assert_eq!(result["stopped"]["after"], stopped_at);

    // Live: helloworld shows up and goes away without a reload, within a couple of seconds
    // (the timer alone refreshes every 10 s while the event stream is up).
    assert_eq!(result["helloworldBefore"], 0);
    assert!(result["appearedMs"].as_u64().unwrap() < 3000, "{result:#}");
    assert!(
        result["disappearedMs"].as_u64().unwrap() < 3000,
        "{result:#}"
    );

    // Logout: the form again, and the API refuses.
    assert_eq!(result["afterLogout"]["login"], true);
    assert_eq!(text(&result, "/afterLogout/message"), "Logged out.");
    assert_eq!(result["afterLogout"]["services"], 401);
    assert_eq!(result["consoleErrors"], serde_json::json!([]), "{result:#}");

    for shot in ["login.png", "publish.png", "stream.png"] {
        let path = shots.path().join(shot);
        support::assert_screenshot(&path);
        if let Some(dir) = std::env::var_os("MICRO_DASHBOARD_SCREENSHOTS") {
            std::fs::copy(&path, Path::new(&dir).join(shot)).unwrap();
        }
    }
    drop(streaming);
}
