//! The Redis streams events backend against a real redis-server: conformance, go-micro's entry
//! format, entries that are not events, a server that is down or restarts, a consumer that dies
//! holding events, and the event store.

#![cfg(feature = "events-redis")]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use micro::events::{
    self, ConsumeOptions, ErrorKind, Event, EventStore, EventStream, Offset, PublishOptions,
    ReadOptions, RedisStream, WriteOptions,
};
use micro_test_support::RedisServer;
use support::events::{Logs, next, text};

fn stream(server: &RedisServer) -> RedisStream {
    RedisStream::new(&[server.address()]).unwrap()
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{}", server.address())).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

#[tokio::test]
async fn redis_stream_conformance() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    events::conformance::run(Arc::new(stream(&server))).await;
    events::conformance::run_store(Arc::new(stream(&server))).await;
}

#[tokio::test]
async fn from_uri_builds_a_redis_stream_and_refuses_bad_addresses() {
    let stream = events::from_uri("redis://127.0.0.1:6390/1").unwrap();
    assert_eq!(stream.name(), "redis");
    let err = events::from_uri("redis://127.0.0.1:port").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("127.0.0.1:port"), "{err}");
}

#[tokio::test]
async fn a_server_that_is_down_fails_fast_naming_redis_and_its_address() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let stream = stream(&server);
    stream
        .publish("down", "before".into(), PublishOptions::default())
        .await
        .unwrap();
    server.kill();
    for attempt in 0..2 {
        let started = Instant::now();
        let err = stream
            .publish("down", "lost".into(), PublishOptions::default())
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "attempt {attempt} took {:?}",
            started.elapsed()
        );
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_temporary());
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("redis at {} unavailable: ", server.address())),
            "{message}"
        );
    }
    let started = Instant::now();
    let err = stream
        .consume("down", ConsumeOptions::default())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains(&server.address()), "{err}");
}

#[tokio::test]
async fn a_restarted_server_keeps_events_and_redelivers_unacked_ones() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let stream = stream(&server);
    let options = ConsumeOptions::default()
        .group("restart")
        .manual_ack()
        .ack_wait(Duration::from_secs(1));
    let mut consumer = stream.consume("restart", options).await.unwrap();
    stream
        .publish("restart", "unacked".into(), PublishOptions::default())
        .await
        .unwrap();
    let first = next(&mut consumer, Duration::from_secs(5), "the first event").await;
    assert_eq!(text(&first), "unacked");
    drop(first);

    server.restart();
    // The consumer reconnects by itself; publishing works at once (one stale connection is
    // replaced within the call).
    stream
        .publish("restart", "after".into(), PublishOptions::default())
        .await
        .unwrap();
    let mut seen = BTreeSet::new();
    while seen.len() < 2 {
        let event = next(
            &mut consumer,
            Duration::from_secs(15),
            "events after the restart",
        )
        .await;
        seen.insert(text(&event));
        event.ack().await.unwrap();
    }
    assert_eq!(
        seen,
        BTreeSet::from(["after".to_owned(), "unacked".to_owned()])
    );
}

#[tokio::test]
async fn a_server_that_lost_everything_gets_the_group_created_again() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let stream = stream(&server);
    let options = ConsumeOptions::default().group("wiped");
    let mut consumer = stream.consume("wiped", options).await.unwrap();
    let mut raw = raw(&server).await;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut raw).await.unwrap();
    // The consumer re-creates its group (from `$`), so publish until one gets through.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(
            Instant::now() < deadline,
            "no event after the data was wiped"
        );
        stream
            .publish("wiped", "again".into(), PublishOptions::default())
            .await
            .unwrap();
        if let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(300), consumer.next()).await
        {
            assert_eq!(text(&event), "again");
            break;
        }
    }
}

#[tokio::test]
async fn entries_that_are_not_events_are_logged_acked_and_skipped() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let logs = Logs::default();
    let _guard = logs.capture();
    let stream = stream(&server);
    let mut raw = raw(&server).await;
    let bad: String = redis::cmd("XADD")
        .arg("stream-junk")
        .arg("*")
        .arg("event")
        .arg("not json")
        .arg("attempt")
        .arg(1)
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg("stream-junk")
        .arg("*")
        .arg("other")
        .arg("field")
        .query_async(&mut raw)
        .await
        .unwrap();
    stream
        .publish("junk", "good".into(), PublishOptions::default())
        .await
        .unwrap();

    let options = ConsumeOptions::default()
        .group("junk")
        .offset(Offset::Start);
    let mut consumer = stream.consume("junk", options).await.unwrap();
    let event = next(&mut consumer, Duration::from_secs(5), "the valid event").await;
    assert_eq!(text(&event), "good");
    assert_eq!(event.attempt(), 1);
    drop(event);

    let logs = logs.text();
    assert!(
        logs.contains("not an event") && logs.contains("stream-junk") && logs.contains(&bad),
        "{logs}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
            .arg("stream-junk")
            .arg("junk")
            .query_async(&mut raw)
            .await
            .unwrap();
        if pending.count() == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "skipped entries were not acked: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn entries_are_go_micros_both_ways() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let stream = stream(&server);
    let mut raw = raw(&server).await;
    let options = PublishOptions::default().metadata("source", "rust");
    stream
        .publish("orders", "{\"id\":1}".into(), options)
        .await
        .unwrap();
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("stream-orders")
        .arg("-")
        .arg("+")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(entries.ids.len(), 1);
    let entry = &entries.ids[0];
    assert_eq!(entry.get::<String>("attempt").as_deref(), Some("1"));
    let json: serde_json::Value =
        serde_json::from_slice(&entry.get::<Vec<u8>>("event").unwrap()).unwrap();
    let keys: BTreeSet<_> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["ID", "Topic", "Timestamp", "Metadata", "Payload"])
    );
    assert_eq!(json["Topic"], "orders");
    assert_eq!(json["Metadata"]["source"], "rust");
    assert_eq!(json["Payload"], "eyJpZCI6MX0=");

    // What go-micro adds when it redelivers a nacked event: the same JSON, attempt + 1.
    let go = r#"{"ID":"go-1","Topic":"orders","Timestamp":"2026-01-02T03:04:05.123456789Z","Metadata":null,"Payload":"eyJpZCI6Mn0="}"#;
    let options = ConsumeOptions::default().group("go").offset(Offset::Start);
    let mut consumer = stream.consume("orders", options).await.unwrap();
    let _: String = redis::cmd("XADD")
        .arg("stream-orders")
        .arg("*")
        .arg("event")
        .arg(go)
        .arg("attempt")
        .arg(2)
        .query_async(&mut raw)
        .await
        .unwrap();
    let ours = next(
        &mut consumer,
        Duration::from_secs(5),
        "the event we published",
    )
    .await;
    assert_eq!(ours.id, json["ID"].as_str().unwrap());
    let theirs = next(
        &mut consumer,
        Duration::from_secs(5),
        "the event go-micro added",
    )
    .await;
    assert_eq!(
        (theirs.id.as_str(), text(&theirs).as_str()),
        ("go-1", "{\"id\":2}")
    );
    assert_eq!(theirs.attempt(), 2, "go-micro's attempt field counts");
}

#[tokio::test]
async fn events_a_dropped_consumer_held_go_to_the_rest_of_its_group() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let stream = stream(&server);
    let options = || {
        ConsumeOptions::default()
            .group("pool")
            .manual_ack()
            .ack_wait(Duration::from_secs(1))
    };
    let mut doomed = stream.consume("jobs", options()).await.unwrap();
    for n in 0..20 {
        stream
            .publish("jobs", n.to_string().into(), PublishOptions::default())
            .await
            .unwrap();
    }
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(next(&mut doomed, Duration::from_secs(5), "an event to hold").await);
    }
    let held_ids: BTreeSet<String> = held.iter().map(|event| event.id.clone()).collect();
    drop(doomed);
    drop(held); // manual ack: dropping neither acks nor nacks

    let mut survivor = stream.consume("jobs", options()).await.unwrap();
    let mut got = BTreeSet::new();
    let mut redelivered = 0;
    let mut deliveries = 0;
    while got.len() < 20 && deliveries < 100 {
        let event = next(&mut survivor, Duration::from_secs(10), "the group's events").await;
        deliveries += 1;
        if held_ids.contains(&event.id) {
            assert!(event.attempt() >= 2, "a redelivery counts: {event:?}");
            redelivered += 1;
        }
        got.insert(text(&event).parse::<usize>().unwrap());
        event.ack().await.unwrap();
    }
    assert_eq!(
        got,
        (0..20).collect(),
        "every event arrived once the consumer died"
    );
    assert_eq!(redelivered, 10, "each held event was redelivered once");
}

#[tokio::test]
async fn giving_up_after_the_retry_limit_is_logged() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let logs = Logs::default();
    let _guard = logs.capture();
    let stream = stream(&server);
    let options = ConsumeOptions::default().manual_ack().retry_limit(0);
    let mut consumer = stream.consume("poison", options).await.unwrap();
    stream
        .publish("poison", "bad".into(), PublishOptions::default())
        .await
        .unwrap();
    let event = next(&mut consumer, Duration::from_secs(5), "the poison event").await;
    let id = event.id.clone();
    event.nack().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logs.text().contains("giving up") {
        assert!(
            Instant::now() < deadline,
            "no warning about giving up: {}",
            logs.text()
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(50), consumer.next())
                .await
                .is_err()
        );
    }
    let logs = logs.text();
    assert!(
        logs.contains("poison") && logs.contains(&id) && logs.contains("attempts=1"),
        "{logs}"
    );
}

#[tokio::test]
async fn the_store_reads_what_was_written_oldest_first() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = stream(&server);
    for n in 0..5 {
        let event = Event::new("history", n.to_string());
        store.write(&event, WriteOptions::default()).await.unwrap();
    }
    let read = |limit, offset| store.read("history", ReadOptions { limit, offset });
    let all: Vec<String> = read(250, 0).await.unwrap().iter().map(text).collect();
    assert_eq!(all, ["0", "1", "2", "3", "4"]);
    let page: Vec<String> = read(2, 1).await.unwrap().iter().map(text).collect();
    assert_eq!(page, ["1", "2"]);
    assert!(
        store
            .read("nothing", ReadOptions::default())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Two publishers publish while redis (AOF, fsync on every write) is killed and started again,
/// and a consumer group reads from the start: every acknowledged event is delivered, and
/// publishes fail only as `Unavailable`. Redeliveries are counted; at-least-once allows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_publishing_loses_no_acknowledged_event() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let stream = Arc::new(stream(&server));
    let options = support::events::drill_group();
    let mut consumer = stream.consume("drill", options).await.unwrap();
    let outage = || {
        server.kill();
        std::thread::sleep(Duration::from_millis(300));
        server.restart();
    };
    let drill = support::events::publish_through(stream, "drill", &mut consumer, outage).await;
    assert!(
        drill.failed > 0,
        "no publish met the server down: {drill:?}"
    );
}
