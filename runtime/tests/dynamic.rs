//! Calls without generated code: descriptors fetched by gRPC reflection, messages from JSON.

mod support;

use futures::StreamExt;
use micro::dynamic::{self, Catalog, Descriptors, HealthStatus};
use micro::server::RpcKind;
use micro::{Client, Code, JsonOptions, RunningService};

async fn kitchen() -> (RunningService, Client) {
    let registry = support::memory_registry();
    let service = support::kitchen_service(support::TestKitchen::default())
        .registry(registry.clone())
        .start()
        .await
        .expect("kitchen starts");
    let client = Client::with_registry(registry).expect("client");
    (service, client)
}

fn json(descriptor: &micro::dynamic::MessageDescriptor, text: &str) -> dynamic::DynamicMessage {
    dynamic::from_json(descriptor, text.as_bytes(), &JsonOptions::default()).expect("valid JSON")
}

fn text(message: &dynamic::DynamicMessage) -> String {
    dynamic::to_json(message, &JsonOptions::default()).unwrap()
}

#[tokio::test]
async fn reflection_describes_every_service_and_import() {
    let (service, client) = kitchen().await;
    let descriptors = Descriptors::fetch(&client, "kitchen", None).await.unwrap();
    let services: Vec<String> = descriptors
        .services()
        .map(|service| service.full_name().to_owned())
        .collect();
    assert!(
        services.contains(&"fixtures.kitchen.Kitchen".to_owned()),
        "{services:?}"
    );
    assert!(
        services.contains(&"fixtures.kitchen.Pantry".to_owned()),
        "{services:?}"
    );
    // Imported from another package and from the well-known types.
    assert!(
        descriptors
            .pool()
            .get_message_by_name("fixtures.types.Item")
            .is_some()
    );
    assert!(
        descriptors
            .pool()
            .get_message_by_name("google.protobuf.Empty")
            .is_some()
    );

    let get = descriptors.method("Kitchen.Get").unwrap();
    assert_eq!(get.path(), "/fixtures.kitchen.Kitchen/Get");
    assert_eq!(get.endpoint(), "Kitchen.Get");
    assert_eq!(get.kind(), RpcKind::Unary);
    for name in [
        "fixtures.kitchen.Kitchen.Get",
        "/fixtures.kitchen.Kitchen/Get",
        "fixtures.kitchen.Kitchen/Get",
    ] {
        assert_eq!(
            descriptors.method(name).unwrap().path(),
            get.path(),
            "{name}"
        );
    }
    assert_eq!(
        descriptors.method("Kitchen.Chat").unwrap().kind(),
        RpcKind::BidiStreaming
    );

    let missing = descriptors.method("Kitchen.Steal").unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(
        missing.message().contains("Kitchen.Steal"),
        "{}",
        missing.message()
    );
    assert!(
        missing.message().contains("Kitchen.Get"),
        "lists what there is: {}",
        missing.message()
    );
    let nonsense = descriptors.method("steal").unwrap_err();
    assert_eq!(
        nonsense.code(),
        Code::InvalidArgument,
        "{}",
        nonsense.message()
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn all_four_kinds_of_call_round_trip_through_the_registry() {
    let (service, client) = kitchen().await;
    let descriptors = Descriptors::fetch(&client, "kitchen", None).await.unwrap();

    let get = descriptors.method("Kitchen.Get").unwrap();
    let reply = client
        .dynamic_unary("kitchen", &get, json(&get.input(), r#"{"id":"apple"}"#))
        .await
        .unwrap();
    assert_eq!(text(&reply), r#"{"id":"apple"}"#);

    let list = descriptors.method("Kitchen.List").unwrap();
    let replies: Vec<String> = client
        .dynamic_server_streaming("kitchen", &list, json(&list.input(), r#"{"limit":4}"#))
        .await
        .unwrap()
        .map(|reply| text(&reply.unwrap()))
        .collect()
        .await;
    assert_eq!(
        replies,
        [
            r#"{"id":"0"}"#,
            r#"{"id":"1"}"#,
            r#"{"id":"2"}"#,
            r#"{"id":"3"}"#
        ]
    );

    let put = descriptors.method("Kitchen.Put").unwrap();
    let items = ["a", "b", "c"].map(|id| json(&put.input(), &format!(r#"{{"id":"{id}"}}"#)));
    let stored = client
        .dynamic_client_streaming("kitchen", &put, futures::stream::iter(items))
        .await
        .unwrap();
    assert_eq!(text(&stored), r#"{"stored":"3"}"#);

    let chat = descriptors.method("Kitchen.Chat").unwrap();
    let items = ["hi", "bye"].map(|id| json(&chat.input(), &format!(r#"{{"id":"{id}"}}"#)));
    let replies: Vec<String> = client
        .dynamic_bidi_streaming("kitchen", &chat, futures::stream::iter(items))
        .await
        .unwrap()
        .map(|reply| text(&reply.unwrap()))
        .collect()
        .await;
    assert_eq!(replies, [r#"{"id":"re: hi"}"#, r#"{"id":"re: bye"}"#]);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn handler_errors_and_bad_json_are_statuses() {
    let (service, client) = kitchen().await;
    let descriptors = Descriptors::fetch(&client, "kitchen", None).await.unwrap();
    let get = descriptors.method("Kitchen.Get").unwrap();
    let missing = client
        .dynamic_unary("kitchen", &get, json(&get.input(), r#"{"id":"missing"}"#))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let options = JsonOptions::default();
    let bad = dynamic::from_json(&get.input(), br#"{"id": 7}"#, &options).unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("`id`"),
        "names the field: {}",
        bad.message()
    );
    let unknown = dynamic::from_json(&get.input(), br#"{"colour":"red"}"#, &options).unwrap_err();
    assert!(
        unknown.message().contains("colour"),
        "{}",
        unknown.message()
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn health_and_direct_addresses() {
    let (service, client) = kitchen().await;
    let address = service.local_addr().to_string();
    assert_eq!(
        dynamic::check_health(&client, "kitchen", None)
            .await
            .unwrap(),
        HealthStatus::Serving
    );
    let direct = Client::connect(&address).unwrap();
    let descriptors = Descriptors::fetch(&direct, "anything", Some(&address))
        .await
        .unwrap();
    assert!(descriptors.method("Pantry.Count").is_ok());
    assert_eq!(
        dynamic::check_health(&direct, "kitchen", Some(&address))
            .await
            .unwrap(),
        HealthStatus::Serving
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn the_catalog_caches_and_names_unknown_services() {
    let (service, client) = kitchen().await;
    let catalog = Catalog::new(client);
    let get = catalog.method("kitchen", "Kitchen.Get").await.unwrap();
    let again = catalog.method("kitchen", "Kitchen.Get").await.unwrap();
    assert_eq!(get.path(), again.path());
    let err = catalog.method("nosuch", "Foo.Bar").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());
    assert!(err.message().contains("nosuch"), "{}", err.message());
    service.stop().await.unwrap();
}

/// A client on `registry` that counts the reflection conversations it starts.
fn counting_client(
    registry: std::sync::Arc<dyn micro::registry::Registry>,
) -> (Client, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::Layer;
    let fetches = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let client = Client::builder()
        .registry(registry)
        .layer(tower::layer::layer_fn(
            move |next: micro::client::Transport| {
                let counter = counter.clone();
                tower::util::MapRequestLayer::new(
                    move |request: http::Request<micro::server::Body>| {
                        if request.uri().path().contains("ServerReflection") {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        request
                    },
                )
                .layer(next)
            },
        ))
        .build()
        .unwrap();
    (client, fetches)
}

#[tokio::test]
async fn the_catalog_fetches_once_for_concurrent_callers_and_refreshes_in_the_background() {
    use std::sync::atomic::Ordering;
    let registry = support::memory_registry();
    let service = support::kitchen_service(support::TestKitchen::default())
        .registry(registry.clone())
        .start()
        .await
        .unwrap();
    let (client, fetches) = counting_client(registry);
    let catalog = Catalog::with_refresh(client, std::time::Duration::from_millis(200));

    let lookups = (0..20).map(|_| catalog.method("kitchen", "Kitchen.Get"));
    for found in futures::future::join_all(lookups).await {
        assert_eq!(found.unwrap().endpoint(), "Kitchen.Get");
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "one fetch for 20 concurrent first calls"
    );

    // Past the refresh interval, calls go on with the cached descriptors while one
    // background fetch renews them.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let lookups = (0..20).map(|_| catalog.method("kitchen", "Kitchen.Get"));
    for found in futures::future::join_all(lookups).await {
        found.unwrap();
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while fetches.load(Ordering::SeqCst) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no background refresh"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "one refresh, not one per call"
    );

    // A missing endpoint fetches again (the service may have been redeployed), once.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let _ = catalog.descriptors("kitchen").await.unwrap();
    let before = fetches.load(Ordering::SeqCst);
    let missing = catalog
        .method("kitchen", "Kitchen.Steal")
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(fetches.load(Ordering::SeqCst), before + 1);
    service.stop().await.unwrap();
}
