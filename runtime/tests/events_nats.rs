//! The JetStream events backend against a real nats-server: conformance, go-micro's event JSON,
//! messages that are not events, a server that is down or restarts, group-less consumers, and
//! the event store.

#![cfg(feature = "events-nats")]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::StreamExt;
use micro::events::{
    self, ConsumeOptions, ErrorKind, Event, EventStore, EventStream, JetStream, Offset,
    PublishOptions, ReadOptions, WriteOptions,
};
use micro_test_support::NatsServer;
use support::events::{Logs, next, text};

fn stream(server: &NatsServer) -> JetStream {
    JetStream::new(&[server.address()])
}

async fn raw(server: &NatsServer) -> async_nats::jetstream::Context {
    let client = async_nats::connect(server.address()).await.unwrap();
    async_nats::jetstream::new(client)
}

#[tokio::test]
async fn jetstream_conformance() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    events::conformance::run(Arc::new(stream(&server))).await;
    events::conformance::run_store(Arc::new(stream(&server))).await;
}

#[tokio::test]
async fn from_uri_builds_a_jetstream_without_connecting() {
    let stream = events::from_uri("nats://127.0.0.1:1,127.0.0.1:2").unwrap();
    assert_eq!(stream.name(), "nats");
}

#[tokio::test]
async fn a_server_that_is_down_fails_fast_naming_nats_and_its_address() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    let stream = stream(&server);
    let mut consumer = stream
        .consume("down", ConsumeOptions::default().group("waiting"))
        .await
        .unwrap();
    stream
        .publish("down", "before".into(), PublishOptions::default())
        .await
        .unwrap();
    let before = next(&mut consumer, Duration::from_secs(10), "the event before").await;
    assert_eq!(text(&before), "before");
    before.ack().await.unwrap();
    server.kill();
    let started = Instant::now();
    let err = stream
        .publish("down", "lost".into(), PublishOptions::default())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary());
    let prefix = format!("nats at {} unavailable: ", server.address());
    assert!(err.to_string().starts_with(&prefix), "{err}");

    // Never reachable: the lazy first connection fails at once, and again on the next call.
    let nowhere = JetStream::new(&[format!("nats://{}", server.address())]);
    for _ in 0..2 {
        let started = Instant::now();
        let err = nowhere
            .consume("down", ConsumeOptions::default())
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(6));
        assert!(err.to_string().starts_with(&prefix), "{err}");
    }

    // Back after a long outage: the consumer that waited through it gets what comes next.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(err) = stream
        .publish("down", "after".into(), PublishOptions::default())
        .await
    {
        assert!(
            Instant::now() < deadline,
            "publishing after a restart: {err}"
        );
    }
    // Acks are not confirmed (at-least-once): the server may have died before the ack of
    // "before" reached it, and then delivers it again.
    let mut after = next(&mut consumer, Duration::from_secs(20), "the event after").await;
    if text(&after) == "before" {
        after.ack().await.unwrap();
        after = next(&mut consumer, Duration::from_secs(20), "the event after").await;
    }
    assert_eq!(text(&after), "after");
}

#[tokio::test]
async fn events_survive_a_server_restart_and_consumers_carry_on() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    let stream = stream(&server);
    let group = || {
        ConsumeOptions::default()
            .group("restart")
            .manual_ack()
            .ack_wait(Duration::from_secs(1))
    };
    let mut live = stream
        .consume("restart", ConsumeOptions::default().group("live"))
        .await
        .unwrap();
    for n in 0..3 {
        let payload = n.to_string().into();
        stream
            .publish("restart", payload, PublishOptions::default())
            .await
            .unwrap();
    }
    // Pulling before the restart: event 0 handled (auto-acked), 1 and 2 maybe prefetched.
    let live_zero = next(
        &mut live,
        Duration::from_secs(10),
        "the live consumer's event 0",
    )
    .await;
    assert_eq!(text(&live_zero), "0");
    drop(live_zero);
    let mut first = stream
        .consume("restart", group().offset(Offset::Start))
        .await
        .unwrap();
    let zero = next(&mut first, Duration::from_secs(10), "event 0").await;
    assert_eq!(text(&zero), "0");
    zero.ack().await.unwrap();
    drop(first); // holding events 1 and 2 unacked

    server.restart();
    // Publishing works again once the client has reconnected.
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(err) = stream
        .publish("restart", "3".into(), PublishOptions::default())
        .await
    {
        assert!(
            Instant::now() < deadline,
            "publishing after a restart: {err}"
        );
    }
    // The group's durable consumer remembers what was acked; unacked events come again.
    let mut second = stream.consume("restart", group()).await.unwrap();
    let mut got = BTreeSet::new();
    while !["1", "2", "3"].iter().all(|n| got.contains(*n)) {
        let event = next(&mut second, Duration::from_secs(10), "events 1 to 3").await;
        got.insert(text(&event));
        event.ack().await.unwrap();
    }
    // The consumer that was pulling across the restart carries on, new event included.
    let mut seen = vec!["0".to_owned()];
    while seen.len() < 4 {
        let event = next(
            &mut live,
            Duration::from_secs(20),
            "the live consumer's events",
        )
        .await;
        if !seen.contains(&text(&event)) {
            seen.push(text(&event));
        }
    }
    assert_eq!(seen, ["0", "1", "2", "3"]);
}

#[tokio::test]
async fn a_message_that_is_not_an_event_is_logged_and_skipped() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let stream = stream(&server);
    let options = ConsumeOptions::default().ack_wait(Duration::from_secs(1));
    let mut consumer = stream.consume("mixed", options).await.unwrap();
    let raw = raw(&server).await;
    raw.publish("mixed", "not json".into())
        .await
        .unwrap()
        .await
        .unwrap();
    stream
        .publish("mixed", "valid".into(), PublishOptions::default())
        .await
        .unwrap();
    let logs = Logs::default();
    let _capture = logs.capture();
    let event = next(&mut consumer, Duration::from_secs(10), "the valid event").await;
    assert_eq!(text(&event), "valid");
    drop(event);
    let logged = logs.text();
    assert!(
        logged.contains("WARN") && logged.contains("not a go-micro event"),
        "{logged}"
    );
    assert!(
        logged.contains("topic=mixed") && logged.contains("sequence=1"),
        "{logged}"
    );
    // Terminated, not redelivered after ack_wait.
    let again = tokio::time::timeout(Duration::from_secs(3), consumer.next()).await;
    assert!(again.is_err(), "{again:?}");
}

#[tokio::test]
async fn the_wire_format_is_go_micros_event_json() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let stream = stream(&server);
    let options = PublishOptions::default().metadata("k", "v");
    stream
        .publish("orders.eu", "{\"id\":1}".into(), options)
        .await
        .unwrap();
    let raw = raw(&server).await;
    // A dotted topic: stream `orders_eu`, subject = topic.
    let mut stored = raw.get_stream("orders_eu").await.unwrap();
    assert_eq!(stored.info().await.unwrap().config.subjects, ["orders.eu"]);
    let message = stored.get_raw_message(1).await.unwrap();
    assert_eq!(message.subject.as_str(), "orders.eu");
    let json: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["ID", "Metadata", "Payload", "Timestamp", "Topic"]);
    assert_eq!(json["Topic"], "orders.eu");
    assert_eq!(json["Metadata"], serde_json::json!({"k": "v"}));
    let payload = base64::engine::general_purpose::STANDARD
        .decode(json["Payload"].as_str().unwrap())
        .unwrap();
    assert_eq!(payload, b"{\"id\":1}");
    assert!(json["Timestamp"].as_str().unwrap().ends_with('Z'), "{json}");

    // What a Go service publishes (nil metadata, a local-offset time) is consumed as is.
    let mut consumer = stream
        .consume("orders.eu", ConsumeOptions::default())
        .await
        .unwrap();
    let go = r#"{"ID":"go-1","Topic":"orders.eu","Timestamp":"2026-01-02T04:04:05.5+01:00","Metadata":null,"Payload":"aGk="}"#;
    raw.publish("orders.eu", go.into())
        .await
        .unwrap()
        .await
        .unwrap();
    let event = next(&mut consumer, Duration::from_secs(10), "the Go event").await;
    assert_eq!((event.id.as_str(), text(&event).as_str()), ("go-1", "hi"));
    assert_eq!(event.attempt(), 1);
}

#[tokio::test]
async fn a_group_less_consumer_is_deleted_when_dropped() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let stream = stream(&server);
    let consumer = stream
        .consume("solo", ConsumeOptions::default())
        .await
        .unwrap();
    let raw = raw(&server).await;
    let solo = raw.get_stream("solo").await.unwrap();
    let count = || async {
        let names = solo.consumer_names().collect::<Vec<_>>().await;
        names.len()
    };
    assert_eq!(count().await, 1);
    drop(consumer);
    let deadline = Instant::now() + Duration::from_secs(10);
    while count().await > 0 {
        assert!(Instant::now() < deadline, "the consumer was not deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A group's consumer stays, to carry on from where it was.
    drop(
        stream
            .consume("solo", ConsumeOptions::default().group("kept"))
            .await
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(count().await, 1);
}

#[tokio::test]
async fn the_store_reads_what_was_written_oldest_first() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let store = stream(&server);
    assert!(
        store
            .read("history", ReadOptions::default())
            .await
            .unwrap()
            .is_empty()
    );
    let written: Vec<Event> = (0..5)
        .map(|n| Event::new("history", n.to_string()))
        .collect();
    for event in &written {
        store.write(event, WriteOptions::default()).await.unwrap();
    }
    let all = store.read("history", ReadOptions::default()).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    let expected: Vec<&str> = written.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, expected);
    let page = store
        .read(
            "history",
            ReadOptions {
                limit: 2,
                offset: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.iter().map(text).collect::<Vec<_>>(), ["1", "2"]);
    let past_the_end = ReadOptions {
        limit: 10,
        offset: 4,
    };
    assert_eq!(store.read("history", past_the_end).await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_topics_are_refused_as_config_errors() {
    let stream = JetStream::new(&[]);
    for topic in ["", "a b", "orders.*", "orders.>"] {
        let err = stream
            .publish(topic, "x".into(), PublishOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{topic:?}: {err}");
    }
}

/// On a three-server JetStream cluster with the topic's stream replicated three ways, the
/// stream's leader is killed while two publishers publish and a group consumes from the start:
/// every acknowledged event is delivered. Redeliveries are counted; at-least-once allows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_stream_leader_of_an_r3_stream_loses_no_acknowledged_event() {
    let Some(mut cluster) = micro_test_support::NatsCluster::start(3) else {
        return;
    };
    let stream = Arc::new(JetStream::new(&cluster.addresses()).replicas(3));
    let mut consumer = consume_once_the_cluster_answers(&stream, "drill").await;
    let servers: Vec<async_nats::ServerAddr> = cluster
        .addresses()
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let client = async_nats::connect(servers.as_slice()).await.unwrap();
    let context = async_nats::jetstream::new(client);
    let name = context.stream_by_subject("drill").await.unwrap();
    let mut info = context.get_stream(&name).await.unwrap();
    let info = info.info().await.unwrap();
    assert_eq!(info.config.num_replicas, 3, "an R3 stream");
    let leader = info
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .expect("a leader");
    let leader: usize = leader
        .trim_start_matches('n')
        .parse()
        .expect("servers are n0, n1, n2");
    let outage = || cluster.kill(leader);
    let drill = support::events::publish_through(stream, "drill", &mut consumer, outage).await;
    assert!(
        drill.acked > 500,
        "too few events to prove anything: {drill:?}"
    );
}

/// The drill group's consumer of `topic`. A cluster whose servers all say healthy can still
/// time out the first R3 stream's creation while its meta group settles on a busy machine: that
/// is an `Unavailable`, retried here for up to 60 s.
async fn consume_once_the_cluster_answers(
    stream: &JetStream,
    topic: &str,
) -> micro::events::Consumer {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match stream.consume(topic, support::events::drill_group()).await {
            Ok(consumer) => return consumer,
            Err(err) if err.kind() == ErrorKind::Unavailable && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => panic!("the cluster did not take the drill's consumer: {err}"),
        }
    }
}
