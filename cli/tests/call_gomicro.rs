//! `micro call` against go-micro services (peers/gomicro-v4 and -v5, built by
//! scripts/build-peers.sh into `MICRO_TEST_GO_PEERS`), which serve no gRPC reflection: the
//! endpoint comes from the registry's descriptions and the JSON goes over go-micro's RPC
//! protocol, as go-micro's own CLI calls.

mod support;

use micro_test_support::EtcdServer;
use serde_json::{Value, json};
use support::{GoHelloworld, failed, go_peer, micro, ok};

async fn calls_a_go_service(program: &str) {
    let Some(program) = go_peer(program) else {
        return;
    };
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let address = etcd.address();
    let _go = GoHelloworld::start(program, &address, "gohello");
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
    // go-micro's dynamic command, its flags typed by the registry's description.
    let mut dynamic = vec!["--registry", "etcd", "--registry-address", &address];
    dynamic.extend(["-o", "json", "gohello", "greeting", "--name", "flags"]);
    let reply = ok(&micro(dynamic.into_iter().map(str::to_owned).collect(), None).await);
    assert_eq!(
        serde_json::from_str::<Value>(&reply).unwrap(),
        json!({"message": "Hello flags"})
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
