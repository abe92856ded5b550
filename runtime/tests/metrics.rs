//! Prometheus metrics at `GET /metrics`: every protocol's calls counted by endpoint and status,
//! scraped and parsed after real traffic; users' metrics served beside them; off means 404.

mod support;

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use micro::Code;
use micro::metrics::prometheus::IntCounter;
use support::kitchen::{GetRequest, KitchenClient, ListRequest};
use support::{RawResponse, TestKitchen, post, send_raw};

/// Samples by name and labels (sorted, `k="v"` joined by commas).
struct Scrape {
    content_type: String,
    samples: HashMap<String, f64>,
}

impl Scrape {
    async fn get(addr: std::net::SocketAddr) -> RawResponse {
        let request = http::Request::get(format!("http://{addr}/metrics"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        send_raw(request, false).await
    }

    async fn of(addr: std::net::SocketAddr) -> Scrape {
        let response = Scrape::get(addr).await;
        assert_eq!(response.status, 200);
        let text = String::from_utf8(response.body.to_vec()).unwrap();
        Scrape {
            content_type: response.header("content-type").unwrap_or("").to_owned(),
            samples: parse(&text),
        }
    }

    /// The value of `name{labels}`, labels given in any order.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples.get(&key(name, labels)).copied()
    }

    fn calls(&self, endpoint: &str, status: &str) -> Option<f64> {
        let labels = [
            ("service", "kitchen"),
            ("endpoint", endpoint),
            ("status", status),
        ];
        self.value("micro_request_total", &labels)
    }
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// A parser of the text exposition format (0.0.4) for the samples this test reads: label
/// values without escapes, one sample per line, comments skipped.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value.parse().expect("a numeric value");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let rest = rest.strip_suffix('}').expect("labels end with }");
                let pairs: Vec<(&str, &str)> = rest
                    .split(',')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').expect("label=value");
                        (k, v.trim_matches('"'))
                    })
                    .collect();
                (name, pairs)
            }
            None => (series, Vec::new()),
        };
        assert!(
            samples.insert(key(name, &labels), value).is_none(),
            "duplicate sample {line}"
        );
    }
    samples
}

#[tokio::test]
async fn calls_of_every_protocol_are_counted_by_endpoint_and_status() {
    let service = support::kitchen_service(TestKitchen::default());
    let orders = IntCounter::new("kitchen_orders_total", "Orders taken.").unwrap();
    service
        .metrics_registry()
        .register(Box::new(orders.clone()))
        .unwrap();
    let running = service.start().await.unwrap();
    let addr = running.local_addr();
    let client = micro::Client::connect(&addr.to_string()).unwrap();
    let kitchen = KitchenClient::new(client);

    // gRPC: 3 successes and a handler error.
    for _ in 0..3 {
        kitchen
            .get(GetRequest { id: "apple".into() })
            .await
            .unwrap();
    }
    let missing = kitchen
        .get(GetRequest {
            id: "missing".into(),
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), Code::NotFound);
    // A server stream.
    let mut stream = kitchen
        .list(ListRequest {
            limit: Some(2),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    while stream.recv().await.unwrap().is_some() {}
    // go-micro JSON (as curl sends it): 2 successes and a body that is not JSON.
    let json = [
        ("content-type", "application/json"),
        ("micro-endpoint", "Kitchen.Get"),
    ];
    for _ in 0..2 {
        let reply = post(addr, "/", &json, r#"{"id":"pear"}"#, false).await;
        assert_eq!(reply.status, 200);
    }
    let bad = post(addr, "/", &json, "{not json", false).await;
    assert_eq!(bad.status, 400);
    // Connect unary.
    let connect = [("content-type", "application/json")];
    let path = "/fixtures.kitchen.Kitchen/Get";
    let reply = post(addr, path, &connect, r#"{"id":"fig"}"#, false).await;
    assert_eq!(reply.status, 200);
    orders.inc_by(7);

    let scrape = Scrape::of(addr).await;
    assert_eq!(scrape.content_type, "text/plain; version=0.0.4");
    assert_eq!(scrape.calls("Kitchen.Get", "OK"), Some(6.0));
    assert_eq!(scrape.calls("Kitchen.Get", "NotFound"), Some(1.0));
    assert_eq!(scrape.calls("Kitchen.Get", "InvalidArgument"), Some(1.0));
    assert_eq!(scrape.calls("Kitchen.List", "OK"), Some(1.0));
    // Statuses and endpoints never seen are not exported.
    assert_eq!(scrape.calls("Kitchen.Get", "Internal"), None);
    assert_eq!(scrape.calls("Kitchen.Put", "OK"), None);
    let total: f64 = scrape
        .samples
        .iter()
        .filter(|(key, _)| key.starts_with("micro_request_total{"))
        .map(|(_, value)| value)
        .sum();
    assert_eq!(total, 9.0, "{:?}", scrape.samples.keys());

    let histogram = |suffix: &str, extra: Option<(&str, &str)>| {
        let mut labels = vec![
            ("service", "kitchen"),
            ("endpoint", "Kitchen.Get"),
            ("status", "OK"),
        ];
        labels.extend(extra);
        let name = format!("micro_request_duration_seconds_{suffix}");
        scrape.value(&name, &labels)
    };
    assert_eq!(histogram("count", None), Some(6.0));
    assert_eq!(histogram("bucket", Some(("le", "+Inf"))), Some(6.0));
    let sum = histogram("sum", None).unwrap();
    assert!(sum > 0.0 && sum < 6.0 * 10.0, "sum {sum}");
    let mut previous = 0.0;
    for le in ["0.0005", "0.001", "0.01", "0.1", "1", "10", "+Inf"] {
        let count = histogram("bucket", Some(("le", le))).unwrap();
        assert!(count >= previous, "buckets are cumulative at le={le}");
        previous = count;
    }
    let in_flight = [("service", "kitchen"), ("endpoint", "Kitchen.Get")];
    assert_eq!(
        scrape.value("micro_requests_in_flight", &in_flight),
        Some(0.0)
    );
    assert_eq!(scrape.value("kitchen_orders_total", &[]), Some(7.0));

    running.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_off_means_404_and_calls_still_work() {
    let running = support::kitchen_service(TestKitchen::default())
        .metrics(false)
        .start()
        .await
        .unwrap();
    let addr = running.local_addr();
    let client = micro::Client::connect(&addr.to_string()).unwrap();
    KitchenClient::new(client)
        .get(GetRequest { id: "apple".into() })
        .await
        .unwrap();
    let response = Scrape::get(addr).await;
    assert_eq!(response.status, 404);
    let body = String::from_utf8_lossy(&response.body);
    assert!(body.contains("metrics are off"), "{body}");
    running.stop().await.unwrap();

    // The same through flags (`--metrics false`, `MICRO_METRICS=false`).
    let mut flags = micro::Flags::default();
    flags.metrics = Some(false);
    let running = support::kitchen_service(TestKitchen::default())
        .flags(flags)
        .start()
        .await
        .unwrap();
    assert_eq!(Scrape::get(running.local_addr()).await.status, 404);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_services_client_counts_its_calls_by_target() {
    let registry = support::memory_registry();
    let kitchen = micro::Service::new("kitchen")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .handle(support::kitchen::KitchenServer::new(TestKitchen::default()))
        .start()
        .await
        .unwrap();
    let caller = micro::Service::new("caller").registry(registry.clone());
    let client = KitchenClient::new(caller.client().unwrap()).with_service("kitchen");
    for _ in 0..2 {
        client.get(GetRequest { id: "apple".into() }).await.unwrap();
    }
    let missing = client
        .get(GetRequest {
            id: "missing".into(),
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), Code::NotFound);

    let mut text = Vec::new();
    let families = caller.metrics_registry().gather();
    micro::metrics::prometheus::Encoder::encode(
        &micro::metrics::prometheus::TextEncoder::new(),
        &families,
        &mut text,
    )
    .unwrap();
    let samples = parse(&String::from_utf8(text).unwrap());
    let labels = |status| {
        key(
            "micro_client_request_total",
            &[
                ("service", "kitchen"),
                ("endpoint", "Kitchen.Get"),
                ("status", status),
            ],
        )
    };
    assert_eq!(samples.get(&labels("OK")), Some(&2.0), "{samples:?}");
    assert_eq!(samples.get(&labels("NotFound")), Some(&1.0));
    let count = key(
        "micro_client_request_duration_seconds_count",
        &[
            ("service", "kitchen"),
            ("endpoint", "Kitchen.Get"),
            ("status", "OK"),
        ],
    );
    assert_eq!(samples.get(&count), Some(&2.0));
    kitchen.stop().await.unwrap();
}
