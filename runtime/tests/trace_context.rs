//! W3C trace context: a `traceparent` sent to one service reaches the service it calls with
//! the same trace id and a new parent; calls without one start a valid trace; broker messages
//! and events carry the trace to subscribers and consumers.

mod support;

use std::time::Duration;

use micro::broker::{self, Message};
use micro::codec::Json;
use micro::events::{ConsumeOptions, PublishOptions};
use micro::trace::TraceContext;
use micro::{Context, Service, Status};
use support::TestKitchen;
use support::kitchen::{GetRequest, KitchenClient};
use tokio::sync::mpsc;

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Calls `Kitchen.Get` with go-micro's JSON protocol (as curl would), with `headers`, and
/// returns the reply's note split on spaces.
async fn note(addr: std::net::SocketAddr, id: &str, headers: &[(&str, &str)]) -> Vec<String> {
    let mut all = vec![
        ("content-type", "application/json"),
        ("micro-endpoint", "Kitchen.Get"),
    ];
    all.extend_from_slice(headers);
    let body = serde_json::json!({ "id": id }).to_string();
    let reply = support::post(addr, "/", &all, body, false).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let note = reply.json()["note"].as_str().unwrap_or_default().to_owned();
    note.split(' ').map(str::to_owned).collect()
}

fn is_hex_id(id: &str, len: usize) -> bool {
    id.len() == len
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && id.bytes().any(|b| b != b'0')
}

#[tokio::test]
async fn a_trace_id_crosses_two_services() {
    let b = support::kitchen_service(TestKitchen::default())
        .start()
        .await
        .unwrap();
    let a = support::kitchen_service(TestKitchen::default())
        .start()
        .await
        .unwrap();

    let relay = format!("relay:{}", b.local_addr());
    let fields = note(a.local_addr(), &relay, &[("traceparent", CALLER)]).await;
    let [a_span, b_trace, b_span, b_parent] = fields.as_slice() else {
        panic!("unexpected note {fields:?}");
    };
    assert_eq!(b_trace, CALLER_TRACE, "B continues the caller's trace");
    assert_eq!(b_parent, a_span, "B's parent is A's span");
    assert_ne!(
        a_span, CALLER_SPAN,
        "A served the call in a span of its own"
    );
    assert_ne!(b_span, a_span);
    assert!(is_hex_id(a_span, 16) && is_hex_id(b_span, 16), "{fields:?}");

    // Through the generated client over gRPC, from outside any call: A starts a trace.
    let client = micro::Client::connect(&a.local_addr().to_string()).unwrap();
    let reply = KitchenClient::new(client)
        .get(GetRequest { id: relay.clone() })
        .await
        .unwrap();
    let note = reply.note.unwrap_or_default();
    let fields: Vec<&str> = note.split(' ').collect();
    let [a_span, b_trace, _, b_parent] = fields.as_slice() else {
        panic!("unexpected note {fields:?}");
    };
    assert!(
        is_hex_id(b_trace, 32) && *b_trace != CALLER_TRACE,
        "{fields:?}"
    );
    assert_eq!(b_parent, a_span);

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn calls_without_a_valid_traceparent_start_a_new_trace() {
    let service = support::kitchen_service(TestKitchen::default())
        .start()
        .await
        .unwrap();
    let addr = service.local_addr();
    let invalid = [
        None,
        Some("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"),
        Some("garbage"),
    ];
    let mut traces = Vec::new();
    for header in invalid {
        let headers: Vec<(&str, &str)> = header.map(|h| ("traceparent", h)).into_iter().collect();
        let fields = note(addr, "trace", &headers).await;
        let [trace, span, parent] = fields.as_slice() else {
            panic!("unexpected note {fields:?}");
        };
        assert!(is_hex_id(trace, 32), "{header:?}: {fields:?}");
        assert!(is_hex_id(span, 16), "{header:?}: {fields:?}");
        assert_eq!(parent, "-", "{header:?} starts a trace");
        assert_ne!(trace, CALLER_TRACE);
        let header = format!("00-{trace}-{span}-01");
        assert!(TraceContext::parse(&header).is_some());
        traces.push(trace.clone());
    }
    traces.sort();
    traces.dedup();
    assert_eq!(
        traces.len(),
        invalid.len(),
        "each call starts its own trace"
    );
    service.stop().await.unwrap();
}

type Inbox = mpsc::UnboundedReceiver<Context>;

async fn recv(inbox: &mut Inbox) -> Context {
    tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("a message within 10 s")
        .expect("the subscriber is running")
}

#[tokio::test]
async fn messages_and_events_carry_the_trace_to_subscribers() {
    let registry = support::memory_registry();
    let broker = broker::memory();
    let stream = micro::events::memory();
    let mut audit = stream
        .consume("audit", ConsumeOptions::default().group("audit"))
        .await
        .unwrap();

    // "relay" gets orders and, while handling one, publishes a shipment and an audit event.
    let relay = Service::new("relay")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .broker(broker.clone())
        .events(stream.clone());
    let client = relay.client().unwrap();
    let events = relay.stream().unwrap();
    let (orders_tx, mut orders) = mpsc::unbounded_channel();
    let relay = relay.subscribe(
        "orders",
        move |ctx: Context, order: Json<serde_json::Value>| {
            let (client, events, orders_tx) = (client.clone(), events.clone(), orders_tx.clone());
            async move {
                client
                    .publish("shipments", &order)
                    .await
                    .map_err(|e| Status::internal(e.to_string()))?;
                let payload = serde_json::to_vec(&order.0).unwrap_or_default();
                events
                    .publish("audit", payload.into(), PublishOptions::default())
                    .await
                    .map_err(|e| Status::internal(e.to_string()))?;
                orders_tx
                    .send(ctx)
                    .map_err(|_| Status::internal("inbox gone"))
            }
        },
    );
    let (shipments_tx, mut shipments) = mpsc::unbounded_channel();
    let shipper = Service::new("shipper")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .broker(broker.clone())
        .subscribe(
            "shipments",
            move |ctx: Context, _: Json<serde_json::Value>| {
                let sent = shipments_tx
                    .send(ctx)
                    .map_err(|_| Status::internal("inbox gone"));
                async move { sent }
            },
        );
    let relay = relay.start().await.unwrap();
    let shipper = shipper.start().await.unwrap();

    let order = Message::new(br#"{"id":7}"#.to_vec())
        .header("Content-Type", "application/json")
        .header("traceparent", CALLER);
    broker.publish("orders", &order).await.unwrap();

    let handled = recv(&mut orders).await;
    let trace = *handled.trace().expect("a subscriber's context has a trace");
    assert_eq!(trace.trace_id().to_string(), CALLER_TRACE);
    assert_eq!(
        trace.parent_id().map(|id| id.to_string()).as_deref(),
        Some(CALLER_SPAN)
    );
    assert_eq!(
        handled.get("traceparent"),
        Some(CALLER),
        "the header is metadata"
    );

    let shipped = recv(&mut shipments).await;
    let next = shipped.trace().expect("the shipment's trace");
    assert_eq!(
        next.trace_id(),
        trace.trace_id(),
        "the trace crosses a second hop"
    );
    assert_eq!(next.parent_id(), Some(trace.span_id()));

    let event = support::events::next(&mut audit, Duration::from_secs(10), "the audit event").await;
    let published_by = event.trace().expect("the event carries traceparent");
    assert_eq!(published_by.trace_id(), trace.trace_id());
    assert_eq!(
        published_by.span_id(),
        trace.span_id(),
        "published by the handling span"
    );

    relay.stop().await.unwrap();
    shipper.stop().await.unwrap();
}
