//! The web dashboard in headless Chromium: two services (helloworld and streaming) run as
//! processes registered in etcd; the dashboard runs in-process (at `/`, and under `/dashboard/`
//! of the API gateway); playwright-core drives Debian's chromium through the page
//! (`tests/dashboard/drive.mjs`): both services listed with SERVING nodes, a call through the
//! form, the request counter moving, markup in metadata shown as text, a screenshot, and a
//! SIGKILLed node shown UNREACHABLE.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser as _;
use micro_test_support::{EtcdServer, tool};
use serde_json::Value;
use support::{Example, playwright};

/// Serves the dashboard on a free loopback port, and the API gateway (with the dashboard under
/// `/dashboard/`) on another; their URLs. Nothing but the gateway answers on the second port,
/// so the page there works only if every URL it uses stays under the prefix.
async fn start_dashboard(etcd: &str) -> (String, String) {
    let cli = micro_cli::Cli::parse_from([
        "micro",
        "--registry",
        "etcd",
        "--registry-address",
        etcd,
        "dashboard",
    ]);
    let env = micro_cli::Env::new(&cli.global).unwrap();
    let standalone = serve(micro_cli::dashboard::router(env.clone())).await;
    let gateway = serve(micro_cli::gateway::Gateway::new(env).router()).await;
    (standalone, format!("{gateway}dashboard"))
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Where the browser goes and what it may kill.
struct Drive {
    modules: PathBuf,
    chromium: PathBuf,
    url: String,
    /// The dashboard nested in the gateway, without the trailing slash.
    nested: String,
    screenshot: PathBuf,
    /// The process of the last service, which the driver SIGKILLs.
    victim: u32,
}

/// Runs the driver script; its JSON result line.
fn drive(drive: &Drive) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard/drive.mjs");
    let output = Command::new("node")
        .arg(script)
        .arg(&drive.modules)
        .arg(&drive.chromium)
        .arg(&drive.url)
        .arg(&drive.nested)
        .arg(&drive.screenshot)
        .arg(drive.victim.to_string())
        .args(["helloworld", "streaming"])
        .output()
        .expect("node runs (scripts/test.sh installs it)");
    support::driver_result(&output)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_lists_calls_and_counts_in_chromium() {
    let (Some(modules), Some(chromium)) = (playwright(), tool("MICRO_TEST_CHROMIUM", "chromium"))
    else {
        return;
    };
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let registry = ["--registry", "etcd", "--registry-address", &etcd.address()];
    let helloworld = Example::start(env!("CARGO_BIN_EXE_helloworld"), &registry);
    // Health says SERVING once a node is registered; the page must see that.
    helloworld.wait_ready(std::time::Duration::from_secs(20));
    // Markup in metadata must reach the page as text, not as elements.
    let markup = ["--server-metadata", "note=<b id=injected>bold</b>"];
    let streaming = Example::start(
        env!("CARGO_BIN_EXE_streaming"),
        &[&registry[..], &markup].concat(),
    );
    streaming.wait_ready(std::time::Duration::from_secs(20));
    let (url, nested) = start_dashboard(&etcd.address()).await;

    let work = tempfile::tempdir().unwrap();
    let screenshot = work.path().join("dashboard.png");
    let plan = Drive {
        modules,
        chromium,
        url,
        nested,
        screenshot: screenshot.clone(),
        victim: streaming.pid(),
    };
    let result = tokio::task::spawn_blocking(move || drive(&plan))
        .await
        .unwrap();
    eprintln!("driver: {result}\nscreenshot: {}", screenshot.display());

    for service in ["helloworld", "streaming"] {
        let seen = &result["services"][service];
        assert_eq!(seen["nodes"], 1, "{result:#}");
        assert_eq!(seen["health"][0], "SERVING", "{result:#}");
    }
    let endpoints = result["services"]["streaming"]["endpoints"].to_string();
    assert!(endpoints.contains("Streamer.Ping"), "{endpoints}");
    assert!(result["registry"].as_str().unwrap().starts_with("etcd"));
    assert_eq!(
        result["markup"]["injected"], false,
        "metadata became markup"
    );
    assert_eq!(result["markup"]["shown"], true, "{result:#}");
    assert!(
        result["badCall"]["status"]
            .as_str()
            .unwrap()
            .starts_with("400")
    );
    assert!(result["badCall"]["reply"].as_str().unwrap().contains("nam"));
    assert!(
        result["call"]["status"]
            .as_str()
            .unwrap()
            .starts_with("200")
    );
    let reply: Value = serde_json::from_str(result["call"]["reply"].as_str().unwrap()).unwrap();
    assert_eq!(reply["message"], "Hello alice");
    assert!(result["requests"].as_f64().unwrap() >= 1.0, "{result:#}");
    assert_eq!(result["killed"]["service"], "streaming");
    assert_eq!(result["killed"]["health"][0], "UNREACHABLE", "{result:#}");
    assert_eq!(result["nested"], true);
    assert_eq!(result["consoleErrors"], serde_json::json!([]), "{result:#}");
    // The page asked for nothing that is not there; only the bad call failed.
    assert_eq!(
        result["failedResponses"],
        serde_json::json!(["400 /api/call"])
    );
    support::assert_screenshot(&screenshot);
    if let Some(copy) = std::env::var_os("MICRO_DASHBOARD_SCREENSHOT") {
        std::fs::copy(&screenshot, copy).unwrap();
    }
}
