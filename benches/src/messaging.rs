//! Messaging throughput, each measured beside its baseline in the same run:
//!
//! - **events**: publish + consume + ack through `micro::events` on NATS JetStream and Redis
//!   streams, vs the raw `async-nats` / `redis` crates doing the same work (the same go-micro
//!   event JSON stored and decoded, publishes awaited, one durable group, explicit acks), also
//!   split into a publish phase and a consume phase for JetStream;
//! - **broker**: publish → handled through `micro::broker` (HTTP, NATS, memory), vs raw
//!   `async-nats` core publish/subscribe; and go-micro v5's and v4's own HTTP broker doing the
//!   same work in a process of their own (`peers/gomicro-v{5,4}/cmd/brokerbench`, built by
//!   `scripts/build-peers.sh`; left out when not built).
//!
//! It starts its own `nats-server -js` and `redis-server` on loopback (`MICRO_TEST_NATS_BIN`,
//! `MICRO_TEST_REDIS_BIN`, else from PATH).
//!
//! ```sh
//! cargo run --release -p micro-benches --bin messaging         # or scripts/bench.sh messaging
//! cargo run --release -p micro-benches --bin messaging -- --messages 5000 --publishers 4
//! ```

mod peer;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use micro::broker::{self, Broker, HttpBroker, HttpOptions, Message, SubscribeOptions};
use micro::events::{ConsumeOptions, EventStream, PublishOptions};
use micro_test_support::{NatsServer, RedisServer};
use tokio::sync::Notify;

/// Messaging throughput benchmark.
#[derive(Parser)]
struct Args {
    /// Messages per round.
    #[arg(long, default_value_t = 20_000)]
    messages: u64,
    /// Concurrent publishers.
    #[arg(long, default_value_t = 16)]
    publishers: u64,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 256)]
    payload: usize,
    /// Rounds per contender; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The Go peers' directory (default `$MICRO_TEST_GO_PEERS`, else
    /// `~/.cache/micro-rs/peers/bin`), for go-micro's HTTP broker.
    #[arg(long)]
    peers: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let nats = NatsServer::start().ok_or_else(|| anyhow::anyhow!("nats-server not found"))?;
    let redis = RedisServer::start().ok_or_else(|| anyhow::anyhow!("redis-server not found"))?;
    println!(
        "{} messages of {} bytes per round, {} publishers, median of {} rounds\n",
        args.messages, args.payload, args.publishers, args.rounds
    );
    println!("{:<44} {:>12} {:>8}", "contender", "msgs/s", "ratio");

    let jetstream = micro::events::from_uri(&format!("nats://{}", nats.address()))?;
    let raw_nats = async_nats::connect(nats.address()).await?;
    let micro_js = median(&args, |round| {
        events_round(jetstream.clone(), format!("bench-micro-{round}"), &args)
    })
    .await;
    let raw_js = median(&args, |round| {
        raw_jetstream_round(raw_nats.clone(), format!("bench-raw-{round}"), &args)
    })
    .await;
    report("raw async-nats JetStream", raw_js, raw_js);
    report("micro events on JetStream", micro_js, raw_js);
    // The same work in two phases: publish everything, then a new group reads it all back.
    let raw_publish = median(&args, |round| {
        raw_jetstream_publish(raw_nats.clone(), format!("bench-raw-split-{round}"), &args)
    })
    .await;
    let micro_publish = median(&args, |round| {
        events_publish(
            jetstream.clone(),
            format!("bench-micro-split-{round}"),
            &args,
        )
    })
    .await;
    report("  publish only, raw", raw_publish, raw_publish);
    report("  publish only, micro", micro_publish, raw_publish);
    let raw_consume = median(&args, |round| {
        raw_jetstream_consume(raw_nats.clone(), format!("bench-raw-split-{round}"), &args)
    })
    .await;
    let micro_consume = median(&args, |round| {
        events_consume(
            jetstream.clone(),
            format!("bench-micro-split-{round}"),
            &args,
        )
    })
    .await;
    report("  consume only, raw", raw_consume, raw_consume);
    report("  consume only, micro", micro_consume, raw_consume);

    let redis_stream = micro::events::from_uri(&format!("redis://{}", redis.address()))?;
    let raw_redis = redis::Client::open(format!("redis://{}", redis.address()))?;
    let micro_redis = median(&args, |round| {
        events_round(redis_stream.clone(), format!("bench-micro-{round}"), &args)
    })
    .await;
    let raw = median(&args, |round| {
        raw_redis_round(raw_redis.clone(), format!("bench-raw-{round}"), &args)
    })
    .await;
    report("raw redis streams", raw, raw);
    report("micro events on Redis streams", micro_redis, raw);

    let raw_core = median(&args, |round| {
        raw_nats_core_round(raw_nats.clone(), format!("bench.core.{round}"), &args)
    })
    .await;
    report("raw async-nats publish/subscribe", raw_core, raw_core);
    let nats_broker = broker::from_uri(
        &format!("nats://{}", nats.address()),
        micro::registry::from_uri("memory://")?,
    )?;
    let rate = median(&args, |round| {
        broker_round(nats_broker.clone(), format!("bench.broker.{round}"), &args)
    })
    .await;
    report("micro broker on NATS", rate, raw_core);
    let registry = micro::registry::from_uri("memory://")?;
    let options = HttpOptions {
        address: "127.0.0.1:0".into(),
        ..HttpOptions::default()
    };
    let http: Arc<dyn Broker> = Arc::new(HttpBroker::new(registry, options));
    let rate = median(&args, |round| {
        broker_round(http.clone(), format!("bench-http-{round}"), &args)
    })
    .await;
    report("micro HTTP broker (go-micro's)", rate, raw_core);
    let micro_http = rate;
    for (name, binary) in [
        ("v5", "gomicro5-brokerbench"),
        ("v4", "gomicro4-brokerbench"),
    ] {
        let Some(binary) = peer::go_peers_dir(args.peers.as_deref())
            .map(|dir| dir.join(binary))
            .filter(|binary| binary.exists())
        else {
            println!("go-micro {name} HTTP broker: not built (scripts/build-peers.sh): left out");
            continue;
        };
        let go = median(&args, |_| go_micro_broker_round(&binary, &args)).await;
        report(&format!("go-micro {name} HTTP broker (Go)"), go, raw_core);
        println!(
            "{:<44} {:>12} {:>7.2}x",
            "  micro HTTP broker vs it",
            "",
            micro_http / go
        );
    }
    let rate = median(&args, |round| {
        broker_round(broker::memory(), format!("bench-memory-{round}"), &args)
    })
    .await;
    report("micro memory broker", rate, raw_core);
    Ok(())
}

/// One round of go-micro's HTTP broker (`brokerbench`, same messages, publishers and payload):
/// its messages/s.
async fn go_micro_broker_round(binary: &std::path::Path, args: &Args) -> f64 {
    let output = tokio::process::Command::new(binary)
        .arg(format!("-messages={}", args.messages))
        .arg(format!("-publishers={}", args.publishers))
        .arg(format!("-payload={}", args.payload))
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .expect("brokerbench runs");
    assert!(
        output.status.success(),
        "{binary:?} failed: {}",
        output.status
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("brokerbench prints one JSON line");
    report["per_second"].as_f64().expect("per_second")
}

fn report(name: &str, rate: f64, baseline: f64) {
    println!("{name:<44} {rate:>12.0} {:>7.2}x", rate / baseline);
}

/// The median messages/s of `args.rounds` runs of `round`.
async fn median<F, Fut>(args: &Args, round: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = f64>,
{
    let mut rates = Vec::with_capacity(args.rounds);
    for n in 0..args.rounds {
        rates.push(round(n).await);
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// Runs `publish(i)` for every message from `args.publishers` tasks.
async fn publish_all<F, Fut>(args: &Args, publish: F)
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let per_task = args.messages / args.publishers;
    let tasks: Vec<_> = (0..args.publishers)
        .map(|task| {
            let publish = publish.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    publish(task * per_task + i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a publisher");
    }
}

/// What a raw consumer must do with each stored event to use it: read go-micro's JSON (with
/// the same function micro uses, so the ratio measures the rest of micro's consumer).
fn decode(json: &[u8]) {
    std::hint::black_box(micro::events::Event::from_json(json).expect("an event"));
}

/// What micro stores per event: go-micro's event JSON around the payload.
fn event_json(topic: &str, args: &Args) -> Bytes {
    Bytes::from(micro::events::Event::new(topic, vec![b'x'; args.payload]).to_json())
}

fn total(args: &Args) -> u64 {
    args.messages / args.publishers * args.publishers
}

/// Counts handled messages and wakes the waiter at `target`.
#[derive(Default)]
struct Counter {
    handled: AtomicU64,
    done: Notify,
}

impl Counter {
    fn handled(&self, target: u64) {
        if self.handled.fetch_add(1, Ordering::Relaxed) + 1 == target {
            self.done.notify_one();
        }
    }

    async fn wait(&self, target: u64, started: Instant) -> f64 {
        if self.handled.load(Ordering::Relaxed) < target {
            let waited = tokio::time::timeout(Duration::from_secs(120), self.done.notified()).await;
            assert!(
                waited.is_ok(),
                "only {} of {target} messages handled",
                self.handled.load(Ordering::Relaxed)
            );
        }
        target as f64 / started.elapsed().as_secs_f64()
    }
}

async fn events_round(stream: Arc<dyn EventStream>, topic: String, args: &Args) -> f64 {
    let target = total(args);
    let options = ConsumeOptions::default().group("bench").manual_ack();
    let mut consumer = stream.consume(&topic, options).await.expect("consume");
    let counter = Arc::new(Counter::default());
    let handled = counter.clone();
    let consuming = tokio::spawn(async move {
        while let Some(event) = consumer.next().await {
            event.ack().await.expect("ack");
            handled.handled(target);
        }
    });
    let payload = Bytes::from(vec![b'x'; args.payload]);
    let started = Instant::now();
    publish_all(args, move |_| {
        let (stream, topic, payload) = (stream.clone(), topic.clone(), payload.clone());
        async move {
            stream
                .publish(&topic, payload, PublishOptions::default())
                .await
                .expect("publish")
        }
    })
    .await;
    let rate = counter.wait(target, started).await;
    consuming.abort();
    rate
}

async fn raw_jetstream_round(client: async_nats::Client, topic: String, args: &Args) -> f64 {
    use async_nats::jetstream::{self, consumer::pull, stream};
    let target = total(args);
    let js = jetstream::new(client);
    let config = stream::Config {
        name: topic.clone(),
        subjects: vec![topic.clone()],
        ..Default::default()
    };
    let created = js.get_or_create_stream(config).await.expect("stream");
    let consumer = created
        .create_consumer(pull::Config {
            durable_name: Some("bench".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let counter = Arc::new(Counter::default());
    let handled = counter.clone();
    let consuming = tokio::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            decode(&message.payload);
            message.ack().await.expect("ack");
            handled.handled(target);
        }
    });
    let payload = event_json(&topic, args);
    let started = Instant::now();
    publish_all(args, move |_| {
        let (js, topic, payload) = (js.clone(), topic.clone(), payload.clone());
        async move {
            js.publish(topic, payload)
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
    })
    .await;
    let rate = counter.wait(target, started).await;
    consuming.abort();
    rate
}

async fn raw_redis_round(client: redis::Client, topic: String, args: &Args) -> f64 {
    let target = total(args);
    let key = format!("stream-{topic}");
    let mut reader = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let writer = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&key)
        .arg("bench")
        .arg("$")
        .arg("MKSTREAM")
        .query_async(&mut reader)
        .await
        .expect("group");
    let counter = Arc::new(Counter::default());
    let handled = counter.clone();
    let read_key = key.clone();
    let consuming = tokio::spawn(async move {
        let mut acker = reader.clone();
        loop {
            let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg("bench")
                .arg("c")
                .arg("COUNT")
                .arg(100)
                .arg("BLOCK")
                .arg(1000)
                .arg("STREAMS")
                .arg(&read_key)
                .arg(">")
                .query_async(&mut reader)
                .await
                .expect("xreadgroup");
            for entry in reply.keys.into_iter().flat_map(|key| key.ids) {
                let event: Vec<u8> = entry.get("event").expect("an event field");
                decode(&event);
                let _: i64 = redis::cmd("XACK")
                    .arg(&read_key)
                    .arg("bench")
                    .arg(&entry.id)
                    .query_async(&mut acker)
                    .await
                    .expect("xack");
                handled.handled(target);
            }
        }
    });
    let payload = event_json(&topic, args);
    let started = Instant::now();
    publish_all(args, move |_| {
        let (mut writer, key, payload) = (writer.clone(), key.clone(), payload.clone());
        async move {
            let _: String = redis::cmd("XADD")
                .arg(&key)
                .arg("*")
                .arg("event")
                .arg(payload.as_ref())
                .query_async(&mut writer)
                .await
                .expect("xadd");
        }
    })
    .await;
    let rate = counter.wait(target, started).await;
    consuming.abort();
    rate
}

async fn raw_nats_core_round(client: async_nats::Client, subject: String, args: &Args) -> f64 {
    let target = total(args);
    let mut subscriber = client.subscribe(subject.clone()).await.expect("subscribe");
    client.flush().await.expect("flush");
    let counter = Arc::new(Counter::default());
    let handled = counter.clone();
    let consuming = tokio::spawn(async move {
        while subscriber.next().await.is_some() {
            handled.handled(target);
        }
    });
    let payload = Bytes::from(vec![b'x'; args.payload]);
    let started = Instant::now();
    publish_all(args, move |_| {
        let (client, subject, payload) = (client.clone(), subject.clone(), payload.clone());
        async move { client.publish(subject, payload).await.expect("publish") }
    })
    .await;
    let rate = counter.wait(target, started).await;
    consuming.abort();
    rate
}

async fn broker_round(broker: Arc<dyn Broker>, topic: String, args: &Args) -> f64 {
    let target = total(args);
    let counter = Arc::new(Counter::default());
    let handled = counter.clone();
    let handler = broker::handler(move |_event| {
        handled.handled(target);
        async { Ok(()) }
    });
    let subscriber = broker
        .subscribe(&topic, handler, SubscribeOptions::default())
        .await
        .expect("subscribe");
    // Let the subscription reach the server (NATS) before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let message = Message::new(vec![b'x'; args.payload]);
    let started = Instant::now();
    publish_all(args, move |_| {
        let (broker, topic, message) = (broker.clone(), topic.clone(), message.clone());
        async move { broker.publish(&topic, &message).await.expect("publish") }
    })
    .await;
    let rate = counter.wait(target, started).await;
    subscriber.unsubscribe().await.expect("unsubscribe");
    rate
}

async fn events_publish(stream: Arc<dyn EventStream>, topic: String, args: &Args) -> f64 {
    let payload = Bytes::from(vec![b'x'; args.payload]);
    let started = Instant::now();
    publish_all(args, move |_| {
        let (stream, topic, payload) = (stream.clone(), topic.clone(), payload.clone());
        async move {
            stream
                .publish(&topic, payload, PublishOptions::default())
                .await
                .expect("publish")
        }
    })
    .await;
    total(args) as f64 / started.elapsed().as_secs_f64()
}

async fn events_consume(stream: Arc<dyn EventStream>, topic: String, args: &Args) -> f64 {
    let options = ConsumeOptions::default()
        .group("replay")
        .offset(micro::events::Offset::Start)
        .manual_ack();
    let started = Instant::now();
    let mut consumer = stream.consume(&topic, options).await.expect("consume");
    for _ in 0..total(args) {
        let event = consumer.next().await.expect("an event");
        event.ack().await.expect("ack");
    }
    total(args) as f64 / started.elapsed().as_secs_f64()
}

async fn raw_jetstream_publish(client: async_nats::Client, topic: String, args: &Args) -> f64 {
    use async_nats::jetstream::{self, stream};
    let js = jetstream::new(client);
    let config = stream::Config {
        name: topic.clone(),
        subjects: vec![topic.clone()],
        ..Default::default()
    };
    js.get_or_create_stream(config).await.expect("stream");
    let payload = event_json(&topic, args);
    let started = Instant::now();
    publish_all(args, move |_| {
        let (js, topic, payload) = (js.clone(), topic.clone(), payload.clone());
        async move {
            js.publish(topic, payload)
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
    })
    .await;
    total(args) as f64 / started.elapsed().as_secs_f64()
}

async fn raw_jetstream_consume(client: async_nats::Client, topic: String, args: &Args) -> f64 {
    use async_nats::jetstream::{self, consumer::pull};
    let js = jetstream::new(client);
    let started = Instant::now();
    let stream = js.get_stream(&topic).await.expect("stream");
    let config = pull::Config {
        durable_name: Some("replay".into()),
        ..Default::default()
    };
    let consumer = stream.create_consumer(config).await.expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    for _ in 0..total(args) {
        let message = messages
            .next()
            .await
            .expect("a message")
            .expect("a message");
        message.ack().await.expect("ack");
    }
    total(args) as f64 / started.elapsed().as_secs_f64()
}
