//! Services publishing and subscribing through go-micro's HTTP broker, found in a shared
//! registry: typed messages, headers as metadata, queue groups, bad payloads, go-micro's wire.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use micro::broker::{self, HTTP_SERVICE, SubscribeOptions};
use micro::codec::Json;
use micro::registry::Registry;
use micro::{Context, Service, Status};
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Signup {
    email: String,
}

type Inbox<T> = mpsc::UnboundedReceiver<(Context, T)>;

/// A service `name` whose subscriber to `topic` forwards what it gets.
fn subscriber<T: micro::codec::Payload>(
    registry: &Arc<dyn Registry>,
    name: &str,
    topic: &str,
    options: SubscribeOptions,
) -> (Service, Inbox<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let service = Service::new(name)
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .subscribe_with(topic, options, move |ctx: Context, message: T| {
            let sent = tx
                .send((ctx, message))
                .map_err(|_| Status::internal("test inbox gone"));
            async move { sent }
        });
    (service, rx)
}

async fn recv<T>(inbox: &mut Inbox<T>) -> (Context, T) {
    tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("a message within 10 s")
        .expect("the subscriber is running")
}

fn publisher(registry: &Arc<dyn Registry>) -> micro::Client {
    Service::new("signup-form")
        .registry(registry.clone())
        .client()
        .unwrap()
}

#[tokio::test]
async fn typed_messages_reach_subscribers_with_headers_as_metadata() {
    let registry = support::memory_registry();
    let (json_service, mut signups) =
        subscriber::<Json<Signup>>(&registry, "mailer", "signups", SubscribeOptions::default());
    let (proto_service, mut ticks) = subscriber::<prost_types::Duration>(
        &registry,
        "clock",
        "ticks",
        SubscribeOptions::default(),
    );
    let _mailer = json_service.start().await.unwrap();
    let _clock = proto_service.start().await.unwrap();
    let client = publisher(&registry);

    let signup = Signup {
        email: "ada@example.com".into(),
    };
    client
        .publish("signups", &Json(signup.clone()))
        .await
        .unwrap();
    let (ctx, Json(got)) = recv(&mut signups).await;
    assert_eq!(got, signup);
    assert_eq!(ctx.service(), "mailer");
    assert_eq!(ctx.get("micro-from-service"), Some("signup-form"));
    assert_eq!(ctx.get("micro-topic"), Some("signups"));
    assert_eq!(ctx.get("content-type"), Some("application/json"));
    assert!(ctx.get("micro-id").is_some_and(|id| id.len() == 36));

    let tick = prost_types::Duration {
        seconds: 42,
        nanos: 7,
    };
    client.publish("ticks", &tick).await.unwrap();
    let (ctx, got) = recv(&mut ticks).await;
    assert_eq!(got, tick);
    assert_eq!(ctx.get("content-type"), Some("application/protobuf"));
}

#[tokio::test]
async fn subscribers_are_registered_as_go_micro_lists_them() {
    let registry = support::memory_registry();
    let (service, _inbox) = subscriber::<Json<Signup>>(
        &registry,
        "mailer",
        "signups",
        SubscribeOptions::default().queue("mailers"),
    );
    let running = service.start().await.unwrap();

    let endpoint = running
        .registration()
        .unwrap()
        .endpoints
        .iter()
        .find(|endpoint| endpoint.name == "Subscriber.signups")
        .cloned()
        .expect("a subscriber endpoint");
    assert_eq!(
        endpoint.metadata,
        BTreeMap::from([
            ("subscriber".into(), "true".into()),
            ("topic".into(), "signups".into())
        ])
    );
    let brokers = registry.get_service(HTTP_SERVICE).await.unwrap();
    assert_eq!(brokers.len(), 1);
    assert_eq!(
        brokers[0].version, "mailers",
        "the queue group is the version, as in go-micro"
    );
    let node = &brokers[0].nodes[0];
    assert!(node.id.starts_with("signups-"), "{}", node.id);
    assert_eq!(
        node.metadata.get("broker").map(String::as_str),
        Some("http")
    );
    assert_eq!(
        node.metadata.get("topic").map(String::as_str),
        Some("signups")
    );

    running.stop().await.unwrap();
    assert!(
        registry.get_service(HTTP_SERVICE).await.is_err(),
        "a stopped service's subscribers leave the registry"
    );
}

#[tokio::test]
async fn a_queue_group_handles_each_message_once_and_broadcast_everything() {
    let registry = support::memory_registry();
    let queue = || SubscribeOptions::default().queue("mailers");
    let (first, mut first_inbox) = subscriber::<Json<u32>>(&registry, "mailer", "signups", queue());
    let (second, mut second_inbox) =
        subscriber::<Json<u32>>(&registry, "mailer", "signups", queue());
    let (audit, mut audit_inbox) =
        subscriber::<Json<u32>>(&registry, "audit", "signups", SubscribeOptions::default());
    let _running = [
        first.start().await.unwrap(),
        second.start().await.unwrap(),
        audit.start().await.unwrap(),
    ];
    let client = publisher(&registry);

    for n in 0..40 {
        client.publish("signups", &Json(n)).await.unwrap();
    }
    let mut shares = Vec::new();
    let mut handled = Vec::new();
    for inbox in [&mut first_inbox, &mut second_inbox] {
        let before = handled.len();
        while let Ok((_, Json(n))) = inbox.try_recv() {
            handled.push(n);
        }
        shares.push(handled.len() - before);
    }
    handled.sort_unstable();
    assert_eq!(
        handled,
        (0..40).collect::<Vec<_>>(),
        "each message exactly once in the group"
    );
    assert!(
        shares.iter().all(|&n| n > 0),
        "both members got work: {shares:?}"
    );
    let mut audited = 0;
    while audit_inbox.try_recv().is_ok() {
        audited += 1;
    }
    assert_eq!(audited, 40, "a broadcast subscriber gets everything");
}

#[tokio::test]
async fn an_undecodable_message_is_reported_to_the_publisher_and_the_subscriber_lives_on() {
    let registry = support::memory_registry();
    let (service, mut ticks) = subscriber::<prost_types::Duration>(
        &registry,
        "clock",
        "ticks",
        SubscribeOptions::default(),
    );
    let _clock = service.start().await.unwrap();
    let client = publisher(&registry);

    let err = client
        .publish("ticks", &Json("not a duration".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), broker::ErrorKind::Undelivered);
    let text = err.to_string();
    assert!(
        text.contains("ticks") && text.contains("cannot decode") && text.contains("Json<T>"),
        "{text}"
    );

    let tick = prost_types::Duration {
        seconds: 1,
        nanos: 0,
    };
    client.publish("ticks", &tick).await.unwrap();
    assert_eq!(recv(&mut ticks).await.1, tick);
}

#[tokio::test]
async fn publishing_without_subscribers_succeeds_and_without_a_broker_says_how_to_get_one() {
    let registry = support::memory_registry();
    publisher(&registry)
        .publish("nobody-listens", &Json(1))
        .await
        .unwrap();

    let bare = micro::Client::builder()
        .address("127.0.0.1:1")
        .build()
        .unwrap();
    let err = bare.publish("t", &Json(1)).await.unwrap_err();
    assert!(err.to_string().contains("ClientBuilder::broker"), "{err}");
}

#[tokio::test]
async fn go_micro_publishers_reach_rust_subscribers_over_http() {
    let registry = support::memory_registry();
    let (service, mut signups) =
        subscriber::<Json<Signup>>(&registry, "mailer", "signups", SubscribeOptions::default());
    let _mailer = service.start().await.unwrap();
    let node = registry.get_service(HTTP_SERVICE).await.unwrap()[0].nodes[0].clone();
    let url = format!("http://{}/?id={}", node.address, node.id);

    // What go-micro's http broker posts: encoding/json of broker.Message, Body in base64.
    let body = r#"{"Header":{"Content-Type":"application/json","Micro-Topic":"signups","Micro-Id":"1"},"Body":"eyJlbWFpbCI6ImdvQGV4YW1wbGUuY29tIn0="}"#;
    let posted = curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-XPOST",
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        &url,
    ])
    .await;
    assert_eq!(posted, "200");
    assert_eq!(recv(&mut signups).await.1.0.email, "go@example.com");

    let wrong_method = curl(&["-sS", &url]).await;
    let error: serde_json::Value = serde_json::from_str(&wrong_method).unwrap();
    assert_eq!(error["code"], 405, "{wrong_method}");
    let garbage = curl(&["-sS", "-XPOST", "-d", "{", &url]).await;
    let error: serde_json::Value = serde_json::from_str(&garbage).unwrap();
    assert_eq!(error["code"], 400, "{garbage}");
}

async fn curl(args: &[&str]) -> String {
    let Some(curl) = micro_test_support::tool("MICRO_TEST_CURL", "curl") else {
        return String::new();
    };
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output =
        tokio::task::spawn_blocking(move || std::process::Command::new(curl).args(args).output())
            .await
            .unwrap()
            .unwrap();
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn a_handler_sees_its_context_when_it_publishes_on() {
    let registry = support::memory_registry();
    let (audit, mut audited) =
        subscriber::<Json<String>>(&registry, "audit", "audit", SubscribeOptions::default());
    let _audit = audit.start().await.unwrap();
    let relay_client = Arc::new(Mutex::new(None::<micro::Client>));
    let client_slot = relay_client.clone();
    let relay = Service::new("relay")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .subscribe(
            "signups",
            move |_ctx: Context, Json(email): Json<String>| {
                let client = client_slot.lock().unwrap().clone().expect("relay client");
                async move { client.publish("audit", &Json(email)).await }
            },
        );
    *relay_client.lock().unwrap() = Some(relay.client().unwrap());
    let _relay = relay.start().await.unwrap();

    publisher(&registry)
        .publish("signups", &Json("x@y.z".to_owned()))
        .await
        .unwrap();
    let (ctx, Json(email)) = recv(&mut audited).await;
    assert_eq!(email, "x@y.z");
    assert_eq!(
        ctx.get("micro-from-service"),
        Some("relay"),
        "published from relay's handler"
    );
}

#[tokio::test]
async fn the_registered_node_names_the_broker_the_service_uses() {
    for (broker, name) in [
        (None, "http"),
        (
            Some(std::sync::Arc::new(broker::MemoryBroker::new()) as Arc<dyn broker::Broker>),
            "memory",
        ),
    ] {
        let registry = support::memory_registry();
        let mut service = Service::new("named-broker")
            .address("127.0.0.1:0")
            .registry(registry.clone());
        if let Some(broker) = broker {
            service = service.broker(broker);
        }
        let running = service.start().await.unwrap();
        let entry = running.registration().expect("registered");
        assert_eq!(
            entry.nodes[0].metadata.get("broker").map(String::as_str),
            Some(name)
        );
        running.stop().await.unwrap();
    }
}
