//! go-micro's wrappers as tower layers: handler wrappers (`WrapHandler`), call wrappers
//! (`WrapCall`) and subscriber wrappers (`WrapSubscriber`) see the endpoint or topic, the
//! metadata and the decoded message, and may answer instead.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use micro::client::{CallRequest, CallResponse};
use micro::codec::Json;
use micro::middleware::{Next, from_fn};
use micro::server::{HandlerRequest, HandlerResponse};
use micro::service::SubscriberRequest;
use micro::{Code, Context, RunningService, Service, Status};
use support::kitchen::{GetRequest, KitchenClient, ListRequest};
use support::types::Item;

type HandlerNext = Next<HandlerRequest, HandlerResponse, Status>;
type CallNext = Next<CallRequest, CallResponse, Status>;

async fn start(service: Service) -> (RunningService, KitchenClient) {
    let running = service.start().await.expect("kitchen starts");
    let client = micro::Client::connect(&running.local_addr().to_string()).unwrap();
    (running, KitchenClient::new(client))
}

#[tokio::test]
async fn a_handler_wrapper_rejects_one_endpoint_on_every_protocol() {
    let wrapper = from_fn(|request: HandlerRequest, next: HandlerNext| async move {
        if request.endpoint() == "Kitchen.List" {
            return Err(Status::permission_denied("no listing today"));
        }
        next.run(request).await
    });
    let service = support::kitchen_service(Default::default()).wrap_handler(wrapper);
    let (service, kitchen) = start(service).await;

    let item = kitchen.get(GetRequest { id: "fig".into() }).await.unwrap();
    assert_eq!(item.id, "fig");
    let refused = kitchen
        .list(ListRequest {
            kind: 0,
            limit: Some(2),
        })
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(refused.message(), "no listing today");

    // Connect streaming reaches the same wrapper; the go-micro JSON route too.
    let headers = [("content-type", "application/connect+json")];
    let body = support::frame(br#"{"limit": 2}"#);
    let addr = service.local_addr();
    let response = support::post(
        addr,
        "/fixtures.kitchen.Kitchen/List",
        &headers,
        body,
        false,
    );
    let response = response.await;
    let end = String::from_utf8_lossy(&response.body).into_owned();
    assert!(end.contains("permission_denied"), "{end}");
    let headers = [
        ("content-type", "application/json"),
        ("micro-endpoint", "Kitchen.Get"),
    ];
    let response = support::post(addr, "/", &headers, r#"{"id":"pear"}"#, false).await;
    assert_eq!(response.json()["id"], "pear");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_handler_wrapper_sees_and_changes_the_decoded_request_and_response() {
    let wrapper = from_fn(
        |mut request: HandlerRequest, next: HandlerNext| async move {
            let message = request.message_mut().expect("a unary request is decoded");
            if let Some(get) = message.downcast_mut::<GetRequest>()
                && get.id == "alias"
            {
                get.id = "endpoint".into();
            }
            let mut response = next.run(request).await?;
            if let Some(item) = response
                .message_mut()
                .and_then(|m| m.downcast_mut::<Item>())
            {
                item.note = Some(format!(
                    "{} (wrapped)",
                    item.note.clone().unwrap_or_default()
                ));
            }
            Ok(response)
        },
    );
    let service = support::kitchen_service(Default::default()).wrap_handler(wrapper);
    let (service, kitchen) = start(service).await;

    // gRPC (protobuf, the framed fast path) and Connect JSON (the plain path).
    let item = kitchen
        .get(GetRequest { id: "alias".into() })
        .await
        .unwrap();
    assert_eq!(item.note.as_deref(), Some("kitchen Kitchen.Get (wrapped)"));
    let headers = [("content-type", "application/json")];
    let addr = service.local_addr();
    let response = support::post(
        addr,
        "/fixtures.kitchen.Kitchen/Get",
        &headers,
        r#"{"id":"alias"}"#,
        false,
    )
    .await;
    assert_eq!(response.json()["note"], "kitchen Kitchen.Get (wrapped)");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn wrappers_nest_the_last_added_outermost_and_see_streams() {
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let wrapper = |name: &'static str| {
        let order = order.clone();
        from_fn(move |request: HandlerRequest, next: HandlerNext| {
            let order = order.clone();
            async move {
                let streamed = request.message().is_none();
                order.lock().unwrap().push(format!("{name} {streamed}"));
                next.run(request).await
            }
        })
    };
    let service = support::kitchen_service(Default::default())
        .wrap_handler(wrapper("inner"))
        .wrap_handler(wrapper("outer"));
    let (service, kitchen) = start(service).await;

    let items = kitchen
        .list(ListRequest {
            kind: 0,
            limit: Some(3),
        })
        .await
        .unwrap();
    assert_eq!(items.collect::<Vec<_>>().await.len(), 3);
    let items = futures::stream::iter([Item::default(), Item::default()]);
    assert_eq!(kitchen.put(items).await.unwrap().stored, 2);
    // A server stream's one request is decoded; a client stream's are the handler's to read.
    assert_eq!(
        *order.lock().unwrap(),
        ["outer false", "inner false", "outer true", "inner true"]
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_call_wrapper_adds_metadata_and_sees_the_request_and_response() {
    let (service, _) = start(support::kitchen_service(Default::default())).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let wrapper = from_fn(move |mut call: CallRequest, next: CallNext| {
        let log = log.clone();
        async move {
            call.metadata_mut()
                .insert("x-team", "payments".parse().unwrap());
            let id = call.message().and_then(|m| m.downcast_ref::<GetRequest>());
            let id = id.map(|get| get.id.clone()).unwrap_or_default();
            let response = next.run(call).await?;
            let note = response.message().and_then(|m| m.downcast_ref::<Item>());
            let note = note.and_then(|item| item.note.clone()).unwrap_or_default();
            log.lock().unwrap().push(format!("{id} -> {note}"));
            Ok(response)
        }
    });
    let client = micro::Client::builder()
        .address(service.local_addr().to_string())
        .wrap_call(wrapper)
        .build()
        .unwrap();
    let kitchen = KitchenClient::new(client);
    let item = kitchen
        .get(GetRequest {
            id: "meta:x-team".into(),
        })
        .await
        .unwrap();
    assert_eq!(item.note.as_deref(), Some("payments"));
    assert_eq!(*seen.lock().unwrap(), ["meta:x-team -> payments"]);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_call_wrapper_may_answer_a_refusal_without_calling() {
    let (service, _) = start(support::kitchen_service(Default::default())).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let wrapper = from_fn(move |call: CallRequest, next: CallNext| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if call.endpoint() == "Kitchen.List" {
                return Err(Status::failed_precondition("lists are off in this client"));
            }
            next.run(call).await
        }
    });
    let client = micro::Client::builder()
        .address(service.local_addr().to_string())
        .wrap_call(wrapper)
        .build()
        .unwrap();
    let kitchen = KitchenClient::new(client);
    let refused = kitchen
        .list(ListRequest::default())
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let items = kitchen
        .chat(futures::stream::iter([Item::default()]))
        .await
        .unwrap();
    assert_eq!(items.collect::<Vec<_>>().await.len(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    service.stop().await.unwrap();
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Signup {
    email: String,
}

#[tokio::test]
async fn a_subscriber_wrapper_counts_messages_and_sees_their_payload() {
    let registry = support::memory_registry();
    let counted = Arc::new(AtomicUsize::new(0));
    let count = counted.clone();
    let wrapper = from_fn(
        move |request: SubscriberRequest, next: Next<SubscriberRequest, (), micro::BoxError>| {
            count.fetch_add(1, Ordering::SeqCst);
            let signup = request.payload::<Json<Signup>>().map(|json| json.0.clone());
            let topic = request.topic().to_owned();
            async move {
                assert_eq!(topic, "signups");
                if signup.is_some_and(|signup| signup.email.ends_with("@spam.example")) {
                    return Ok(()); // Dropped: the subscriber never sees it.
                }
                next.run(request).await
            }
        },
    );
    let (tx, mut inbox) = tokio::sync::mpsc::unbounded_channel();
    let subscriber = Service::new("mailer")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .subscribe(
            "signups",
            move |_ctx: Context, Json(signup): Json<Signup>| {
                let sent = tx.send(signup.email);
                async move { sent.map_err(|_| Status::internal("inbox gone")) }
            },
        )
        .wrap_subscriber(wrapper)
        .start()
        .await
        .unwrap();
    let publisher = Service::new("form")
        .registry(registry.clone())
        .client()
        .unwrap();
    for email in ["a@example.com", "b@spam.example", "c@example.com"] {
        let signup = Json(Signup {
            email: email.into(),
        });
        publisher.publish("signups", &signup).await.unwrap();
    }
    let mut received = Vec::new();
    while received.len() < 2 {
        let email = tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await;
        received.push(email.expect("a message within 10 s").unwrap());
    }
    assert_eq!(received, ["a@example.com", "c@example.com"]);
    assert_eq!(counted.load(Ordering::SeqCst), 3);
    subscriber.stop().await.unwrap();
}
