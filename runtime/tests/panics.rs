//! A handler that panics fails its call with `INTERNAL`, in each protocol's error form; the
//! connection, and the calls on it, go on.

mod support;

use futures::StreamExt;
use micro::Code;
use support::kitchen::{GetRequest, ListRequest};

#[tokio::test]
async fn a_panicking_unary_handler_fails_its_call_and_the_connection_serves_the_next() {
    let (service, kitchen, _) = support::start_kitchen().await;

    let failed = kitchen
        .get(GetRequest { id: "panic".into() })
        .await
        .unwrap_err();
    assert_eq!(failed.code(), Code::Internal);
    assert!(
        failed.message().contains("Kitchen.Get panicked"),
        "{}",
        failed.message()
    );
    assert!(
        !failed.message().contains("on fire"),
        "the panic message stays in the log: {}",
        failed.message()
    );
    // The service goes on serving.
    let item = kitchen.get(GetRequest { id: "fig".into() }).await.unwrap();
    assert_eq!(item.id, "fig");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_streaming_handler_that_panics_ends_its_stream_with_internal_after_what_it_sent() {
    let (service, kitchen, _) = support::start_kitchen().await;

    let request = ListRequest {
        kind: 0,
        limit: Some(13),
    };
    let mut items = kitchen.list(request).await.unwrap();
    assert_eq!(items.next().await.unwrap().unwrap().id, "0");
    let failed = items.next().await.unwrap().unwrap_err();
    assert_eq!(failed.code(), Code::Internal);
    assert!(items.next().await.is_none());

    let request = ListRequest {
        kind: 0,
        limit: Some(2),
    };
    let listed: Vec<_> = kitchen.list(request).await.unwrap().collect().await;
    assert_eq!(listed.len(), 2);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_panic_reaches_connect_and_go_micro_callers_in_their_error_forms() {
    let (service, _, _) = support::start_kitchen().await;
    let addr = service.local_addr();

    let connect = [("content-type", "application/json")];
    let body = r#"{"id":"panic"}"#;
    let response = support::post(addr, "/fixtures.kitchen.Kitchen/Get", &connect, body, false);
    let response = response.await;
    assert_eq!(response.status, http::StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.json()["code"], "internal");

    let go_micro = [
        ("content-type", "application/json"),
        ("micro-endpoint", "Kitchen.Get"),
    ];
    let response = support::post(addr, "/", &go_micro, body, false).await;
    assert_eq!(response.status, http::StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.json()["code"], 500);
    assert!(
        response.json()["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("panicked")),
        "{:?}",
        response.json()
    );
    service.stop().await.unwrap();
}
