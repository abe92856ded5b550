//! `micro call` against go-micro services (peers/gomicro-v4 and -v5, built by
//! scripts/build-peers.sh into `MICRO_TEST_GO_PEERS`), which serve no gRPC reflection: the
//! endpoint comes from the registry's descriptions and the JSON goes over go-micro's RPC
//! protocol, as go-micro's own CLI calls.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use micro_test_support::{EtcdServer, require_or_skip};
use serde_json::{Value, json};
use support::{failed, micro, ok};

/// A Go helloworld (rpc server, etcd), killed when dropped.
struct GoHelloworld(Child);

impl GoHelloworld {
    fn start(program: PathBuf, etcd: &str) -> GoHelloworld {
        let mut child = Command::new(&program)
            .args([
                "--registry",
                "etcd",
                "--registry_address",
                etcd,
                "--name",
                "gohello",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
        let stdout = child.stdout.take().expect("piped");
        // It prints {"listening":…} once registered (go-micro v4 also logs to stdout, so the
        // rest is drained: a closed pipe would kill it on its next log line).
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let registered = lines.any(|line| line.starts_with("{\"listening\""));
        assert!(registered, "{} never registered", program.display());
        std::thread::spawn(move || lines.for_each(drop));
        GoHelloworld(child)
    }
}

impl Drop for GoHelloworld {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peer(name: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("MICRO_TEST_GO_PEERS") else {
        require_or_skip(
            "MICRO_TEST_GO_PEERS not set; run scripts/test.sh (it builds the Go peers)",
        );
        return None;
    };
    Some(PathBuf::from(dir).join(name))
}

async fn calls_a_go_service(program: &str) {
    let Some(program) = peer(program) else {
        return;
    };
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let address = etcd.address();
    let _go = GoHelloworld::start(program, &address);
    let call = |args: &[&str]| {
        let mut all = vec![
            "--registry",
            "etcd",
            "--registry-address",
            &address,
            "-o",
            "json",
            "call",
            "gohello",
        ];
        all.extend(args);
        micro(all.into_iter().map(str::to_owned).collect(), None)
    };
    let reply: Value =
        serde_json::from_str(&ok(
            &call(&["Helloworld.Greeting", r#"{"name":"alice"}"#]).await
        ))
        .unwrap();
    assert_eq!(reply, json!({"message": "Hello alice"}));
    let echoed = ok(&call(&[
        "Helloworld.Greeting",
        r#"{"name":"metadata"}"#,
        "-m",
        "X-Request-Id=7",
    ])
    .await);
    assert_eq!(
        serde_json::from_str::<Value>(&echoed).unwrap(),
        json!({"message": "x-request-id=7"})
    );
    let error = failed(&call(&["Helloworld.Greeting", r#"{"name":"error"}"#]).await);
    assert!(
        error
            .contains(r#"\"id\":\"helloworld\",\"code\":409,\"detail\":\"no greeting for error\""#),
        "{error}"
    );
}

#[tokio::test]
async fn micro_call_calls_a_go_micro_v4_service_without_reflection() {
    calls_a_go_service("gomicro4-helloworld").await;
}

#[tokio::test]
async fn micro_call_calls_a_go_micro_v5_service_without_reflection() {
    calls_a_go_service("gomicro5-helloworld").await;
}
