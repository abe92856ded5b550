//! The NATS broker against a real nats-server: conformance, go-micro's message JSON both ways,
//! payloads that are not messages, a server that is down or restarts.

#![cfg(feature = "broker-nats")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use micro::broker::{self, Broker, ErrorKind, Message, NatsBroker, SubscribeOptions};
use micro_test_support::NatsServer;
use tokio::sync::mpsc;

fn broker(server: &NatsServer) -> NatsBroker {
    NatsBroker::new(&[server.address()])
}

async fn raw(server: &NatsServer) -> async_nats::Client {
    async_nats::connect(server.address()).await.unwrap()
}

/// A handler forwarding each message's body.
fn forward() -> (broker::Handler, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = broker::handler(move |event| {
        let body = String::from_utf8_lossy(&event.message().body).into_owned();
        let sent = tx.send(body);
        async move { Ok(sent?) }
    });
    (handler, rx)
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<String>, what: &str) -> String {
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some(body)) => body,
        _ => panic!("{what} did not arrive within 10s"),
    }
}

#[tokio::test]
async fn nats_broker_conformance() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    broker::conformance::run(Arc::new(broker(&server))).await;
}

#[tokio::test]
async fn names_and_addresses() {
    let broker = NatsBroker::new(&["nats://10.0.0.1:4222".into(), "10.0.0.2:4222".into()]);
    assert_eq!(broker.name(), "nats");
    assert_eq!(broker.address(), "10.0.0.1:4222,10.0.0.2:4222");
    assert_eq!(NatsBroker::new(&[]).address(), "127.0.0.1:4222");
}

#[tokio::test]
async fn the_wire_format_is_go_micros_message_json() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let broker = broker(&server);
    let raw = raw(&server).await;
    let mut wire = raw.subscribe("greetings").await.unwrap();
    raw.flush().await.unwrap();
    let message = Message::new(&b"hi\xff"[..]).header("Content-Type", "text/plain");
    broker.publish("greetings", &message).await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), wire.next())
        .await
        .unwrap()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&seen.payload).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "Header": {"Content-Type": "text/plain", "Micro-Topic": "greetings"},
            "Body": "aGn/"
        })
    );

    // What a Go service publishes (nil header) reaches a handler.
    let (handler, mut bodies) = forward();
    let _subscriber = broker
        .subscribe("from-go", handler, SubscribeOptions::default())
        .await
        .unwrap();
    raw.publish("from-go", r#"{"Header":null,"Body":"aGk="}"#.into())
        .await
        .unwrap();
    assert_eq!(recv(&mut bodies, "the Go message").await, "hi");
}

#[tokio::test]
async fn a_payload_that_is_not_a_message_is_skipped() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let broker = broker(&server);
    let (handler, mut bodies) = forward();
    let _subscriber = broker
        .subscribe("mixed", handler, SubscribeOptions::default())
        .await
        .unwrap();
    let raw = raw(&server).await;
    raw.publish("mixed", "not json".into()).await.unwrap();
    raw.flush().await.unwrap();
    broker
        .publish("mixed", &Message::new("valid"))
        .await
        .unwrap();
    assert_eq!(recv(&mut bodies, "the valid message").await, "valid");
}

#[tokio::test]
async fn a_server_that_is_down_fails_fast_naming_nats_and_its_address() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    let prefix = format!("nats broker at {} unavailable: ", server.address());
    let broker = broker(&server);
    broker.publish("down", &Message::new("up")).await.unwrap();
    server.kill();
    let started = Instant::now();
    // The first message may go into the dead socket before the client notices (core NATS has
    // no acks); then publishing fails.
    let err = loop {
        match broker.publish("down", &Message::new("lost")).await {
            Err(err) => break err,
            Ok(()) => assert!(
                started.elapsed() < Duration::from_secs(8),
                "publish kept succeeding"
            ),
        }
    };
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary());
    assert!(err.to_string().starts_with(&prefix), "{err}");

    let nowhere = NatsBroker::new(&[format!("nats://{}", server.address())]);
    for _ in 0..2 {
        let started = Instant::now();
        let err = nowhere.connect().await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(6));
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().starts_with(&prefix), "{err}");
    }
}

#[tokio::test]
async fn subscriptions_survive_a_server_restart() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    let broker = broker(&server);
    let (handler, mut bodies) = forward();
    let _subscriber = broker
        .subscribe("restart", handler, SubscribeOptions::default().queue("q"))
        .await
        .unwrap();
    broker
        .publish("restart", &Message::new("before"))
        .await
        .unwrap();
    assert_eq!(recv(&mut bodies, "the message before").await, "before");
    server.restart();
    // Core NATS keeps nothing: publish until the resubscribed handler hears one.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let _ = broker.publish("restart", &Message::new("after")).await;
        match tokio::time::timeout(Duration::from_millis(200), bodies.recv()).await {
            Ok(Some(body)) => {
                assert_eq!(body, "after");
                break;
            }
            _ => assert!(Instant::now() < deadline, "no message after the restart"),
        }
    }
}

#[tokio::test]
async fn disconnect_ends_subscriptions_and_publish_reconnects() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let broker = broker(&server);
    let (handler, mut bodies) = forward();
    let subscriber = broker
        .subscribe("cycle", handler, SubscribeOptions::default())
        .await
        .unwrap();
    broker.disconnect().await.unwrap();
    let (handler, mut again) = forward();
    let _fresh = broker
        .subscribe("cycle", handler, SubscribeOptions::default())
        .await
        .unwrap();
    broker.publish("cycle", &Message::new("new")).await.unwrap();
    assert_eq!(
        recv(&mut again, "the message after reconnecting").await,
        "new"
    );
    let stale = tokio::time::timeout(Duration::from_millis(300), bodies.recv()).await;
    assert!(!matches!(stale, Ok(Some(_))), "{stale:?}");
    subscriber.unsubscribe().await.unwrap();
}
