//! Deadlines: the client's timeout travels as `grpc-timeout`, and both sides enforce it.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use micro::Code;
use prost::Message;
use support::kitchen::GetRequest;

#[tokio::test]
async fn the_handler_sees_the_callers_deadline() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let reply = kitchen
        .get(GetRequest {
            id: "deadline".into(),
        })
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    let remaining_ms: u64 = reply.note.unwrap().parse().unwrap();
    assert!(
        (4_000..=5_000).contains(&remaining_ms),
        "{remaining_ms} ms left"
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_call_past_its_deadline_fails_naming_service_endpoint_and_time() {
    let (service, kitchen, handler) = support::start_kitchen().await;
    let err = kitchen
        .get(GetRequest { id: "slow".into() })
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    let message = err.message();
    assert!(
        message.contains("kitchen") && message.contains("Kitchen.Get"),
        "{message}"
    );
    assert!(message.contains("0.2"), "elapsed time missing: {message}");
    // The server gave up on the handler too.
    wait_until(|| handler.counters.cancelled.load(Ordering::SeqCst) == 1).await;
    service.stop().await.unwrap();
}

#[tokio::test]
async fn the_server_enforces_grpc_timeout_without_help_from_the_client() {
    let (service, _, handler) = support::start_kitchen().await;
    let message = GetRequest { id: "slow".into() }.encode_to_vec();
    let mut request = support::grpc_request(
        service.local_addr(),
        "/fixtures.kitchen.Kitchen/Get",
        &message,
    );
    request
        .headers_mut()
        .insert("grpc-timeout", "100m".parse().unwrap());
    let started = std::time::Instant::now();
    let response = support::send_raw(request, true).await;
    assert_eq!(response.grpc_status(), Some(Code::DeadlineExceeded as i32));
    assert!(
        response.grpc_message().contains("Kitchen.Get"),
        "{}",
        response.grpc_message()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(handler.counters.cancelled.load(Ordering::SeqCst), 1);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn go_micro_timeout_header_in_nanoseconds_sets_the_deadline() {
    let (service, _, _) = support::start_kitchen().await;
    let message = GetRequest {
        id: "deadline".into(),
    }
    .encode_to_vec();
    let mut request = support::grpc_request(
        service.local_addr(),
        "/fixtures.kitchen.Kitchen/Get",
        &message,
    );
    request
        .headers_mut()
        .insert("timeout", "3000000000".parse().unwrap());
    let response = support::send_raw(request, true).await;
    assert_eq!(response.grpc_status(), Some(0));
    let reply = support::types::Item::decode(&response.body[5..]).unwrap();
    let remaining_ms: u64 = reply.note.unwrap().parse().unwrap();
    assert!(
        (2_000..=3_000).contains(&remaining_ms),
        "{remaining_ms} ms left"
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_handler() {
    let (service, kitchen, handler) = support::start_kitchen().await;
    let call = tokio::spawn(kitchen.get(GetRequest { id: "slow".into() }).into_future());
    wait_until(|| handler.counters.started.load(Ordering::SeqCst) == 1).await;
    call.abort();
    wait_until(|| handler.counters.cancelled.load(Ordering::SeqCst) == 1).await;
    service.stop().await.unwrap();
}

/// Polls `done` every 10 ms for up to 5 s.
async fn wait_until(done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn calls_carry_the_default_thirty_second_deadline() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let reply = kitchen
        .get(GetRequest {
            id: "deadline".into(),
        })
        .await
        .unwrap();
    let remaining_ms: u64 = reply.note.unwrap().parse().unwrap();
    assert!(
        (29_000..=30_000).contains(&remaining_ms),
        "{remaining_ms} ms left"
    );
    service.stop().await.unwrap();
}
