//! gRPC's retry policy (gRFC A6) against a real node: the server's pushback is waited for
//! exactly or ends the retries (and the hedges), retries carry `grpc-previous-rpc-attempts`, a
//! call makes at most 5 attempts, nothing is retried once response headers arrived, the
//! throttle stops retries while failures dominate, and the `--client-retry-*` and
//! `--client-hedge` flags configure all of it.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use micro::metadata::MetadataMap;
use micro::{Client, Code, Context, RunningService, Service, Status};
use support::kitchen::{PantryClient, PantryHandler, PantryServer, PutReply};
use tokio::time::Instant;

/// What one call to the node saw: when it came and its `grpc-previous-rpc-attempts`.
type Seen = Arc<Mutex<Vec<(Instant, Option<String>)>>>;

/// A pantry node that fails its first `failures` calls as `fail` says, then answers.
#[derive(Clone)]
struct Scripted {
    failures: usize,
    fail: fn(&Context) -> Status,
    seen: Seen,
}

impl PantryHandler for Scripted {
    async fn count(&self, ctx: Context, _request: ()) -> Result<PutReply, Status> {
        let previous = ctx.get("grpc-previous-rpc-attempts").map(str::to_owned);
        let call = {
            let mut seen = self.seen.lock().unwrap();
            seen.push((Instant::now(), previous));
            seen.len()
        };
        match call <= self.failures {
            true => Err((self.fail)(&ctx)),
            false => Ok(PutReply { stored: 7 }),
        }
    }
}

async fn start(failures: usize, fail: fn(&Context) -> Status) -> (RunningService, Seen) {
    let seen = Seen::default();
    let handler = Scripted {
        failures,
        fail,
        seen: seen.clone(),
    };
    let node = Service::new("pantry")
        .address("127.0.0.1:0")
        .registry(support::memory_registry())
        .handle(PantryServer::new(handler))
        .start()
        .await
        .expect("node starts");
    (node, seen)
}

fn pantry(node: &RunningService, client: micro::client::ClientBuilder) -> PantryClient {
    let client = client.address(node.local_addr().to_string()).build();
    PantryClient::new(client.expect("client")).with_service("pantry")
}

fn pushback(millis: &'static str) -> Status {
    let mut metadata = MetadataMap::new();
    metadata.insert("grpc-retry-pushback-ms", millis.parse().unwrap());
    Status::with_metadata(Code::Unavailable, "busy", metadata)
}

fn unavailable(_: &Context) -> Status {
    Status::unavailable("draining")
}

/// A client builder configured by a command line of micro's flags.
fn flags(args: &[&str]) -> micro::client::ClientBuilder {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        micro: micro::Flags,
    }

    let cli = Cli::try_parse_from(std::iter::once("client").chain(args.iter().copied()));
    Client::builder().flags(&cli.expect("flags parse").micro)
}

#[tokio::test]
async fn pushback_is_waited_for_exactly_and_retries_say_how_many_came_before() {
    let (node, seen) = start(2, |_| pushback("150")).await;
    let client = pantry(&node, Client::builder());
    assert_eq!(client.count(()).await.unwrap().stored, 7);
    let seen = seen.lock().unwrap().clone();
    let previous: Vec<Option<&str>> = seen.iter().map(|(_, p)| p.as_deref()).collect();
    assert_eq!(previous, [None, Some("1"), Some("2")]);
    for pair in seen.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= Duration::from_millis(150) && gap < Duration::from_millis(1500),
            "{gap:?} between attempts, 150 ms pushed back"
        );
    }
}

#[tokio::test]
async fn a_negative_pushback_stops_the_retries() {
    let (node, seen) = start(usize::MAX, |_| pushback("-1")).await;
    let client = pantry(&node, Client::builder());
    let status = client.count(()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(seen.lock().unwrap().len(), 1, "{status:?}");
}

#[tokio::test]
async fn a_call_makes_at_most_five_attempts_whatever_is_configured() {
    let (node, seen) = start(usize::MAX, unavailable).await;
    let builder = Client::builder().retries(20).backoff(|_| Duration::ZERO);
    let status = pantry(&node, builder).count(()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(seen.lock().unwrap().len(), 5, "{status:?}");
    assert!(status.message().contains("after 5 attempts"), "{status:?}");
}

/// A bare HTTP/2 server answering every call with response headers, then `UNAVAILABLE` in the
/// trailers (micro's own server answers a failed unary call trailers-only); it counts calls.
async fn headers_then_unavailable() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    use http_body_util::StreamBody;
    use hyper::body::Frame;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let calls = counted.clone();
            let service = hyper::service::service_fn(move |_request| {
                calls.fetch_add(1, Ordering::SeqCst);
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", "14".parse().unwrap());
                trailers.insert("grpc-message", "failed after its headers".parse().unwrap());
                let frames = [Ok::<_, std::convert::Infallible>(
                    Frame::<bytes::Bytes>::trailers(trailers),
                )];
                let response = http::Response::builder()
                    .header("content-type", "application/grpc")
                    .body(StreamBody::new(futures::stream::iter(frames)))
                    .unwrap();
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (address, calls)
}

#[tokio::test]
async fn nothing_is_retried_once_response_headers_arrived() {
    let (address, calls) = headers_then_unavailable().await;
    let client = Client::builder()
        .address(address.to_string())
        .backoff(|_| Duration::ZERO)
        .build()
        .unwrap();
    let pantry = PantryClient::new(client).with_service("pantry");
    let status = pantry.count(()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "{status:?}");
}

#[tokio::test]
async fn the_throttle_stops_retries_while_failures_dominate() {
    let (node, seen) = start(usize::MAX, unavailable).await;
    let builder = Client::builder()
        .retry_throttle(10, 0.1)
        .backoff(|_| Duration::ZERO);
    let client = pantry(&node, builder);
    let calls = 50;
    for _ in 0..calls {
        assert_eq!(
            client.count(()).await.unwrap_err().code(),
            Code::Unavailable
        );
    }
    let attempts = seen.lock().unwrap().len();
    // 10 tokens: the first call's 4 failures leave 6, the next call's failure 5, and from then
    // on no call is retried (retries need more than half the tokens).
    assert_eq!(attempts, calls + 3, "{attempts} attempts for {calls} calls");
}

#[tokio::test]
async fn a_hedge_waits_for_the_servers_pushback_before_its_next_copy() {
    let (node, seen) = start(1, |_| pushback("150")).await;
    // Copies 5 s apart: only the pushback can bring the second one sooner.
    let client = pantry(&node, flags(&["--client-hedge", "Pantry.Count=5s/3"]));
    let start = Instant::now();
    assert_eq!(client.count(()).await.unwrap().stored, 7);
    let elapsed = start.elapsed();
    let seen = seen.lock().unwrap().clone();
    let previous: Vec<Option<&str>> = seen.iter().map(|(_, p)| p.as_deref()).collect();
    assert_eq!(previous, [None, Some("1")]);
    let gap = seen[1].0 - seen[0].0;
    assert!(
        gap >= Duration::from_millis(150) && elapsed < Duration::from_secs(2),
        "second copy {gap:?} after the first (150 ms pushed back), call took {elapsed:?}"
    );
}

#[tokio::test]
async fn a_negative_pushback_stops_the_hedges() {
    let (node, seen) = start(usize::MAX, |_| pushback("-1")).await;
    let client = pantry(&node, Client::builder());
    let hedging = micro::client::Hedging::after(Duration::from_millis(50)).max_attempts(5);
    let status = client.count(()).hedge(hedging).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    // The call is over: no copy can go out after it returned.
    assert_eq!(seen.lock().unwrap().len(), 1, "{status:?}");
}

#[tokio::test]
async fn retry_flags_pick_the_codes_and_the_throttle() {
    fn exhausted(_: &Context) -> Status {
        Status::resource_exhausted("quota")
    }
    // By default RESOURCE_EXHAUSTED is not retried.
    let (node, seen) = start(1, exhausted).await;
    let status = pantry(&node, flags(&[])).count(()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(seen.lock().unwrap().len(), 1);

    let (node, seen) = start(1, exhausted).await;
    let retried = pantry(
        &node,
        flags(&["--client-retry-codes=resource_exhausted,14"]),
    );
    assert_eq!(retried.count(()).await.unwrap().stored, 7);
    assert_eq!(seen.lock().unwrap().len(), 2);

    // A throttle of 2 tokens: one failure leaves 1, not more than half, so no retry.
    let (node, seen) = start(usize::MAX, unavailable).await;
    let throttled = pantry(&node, flags(&["--client-retry-tokens=2"]));
    assert_eq!(
        throttled.count(()).await.unwrap_err().code(),
        Code::Unavailable
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}
