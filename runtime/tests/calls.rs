//! The four kinds of call through generated clients and servers, with metadata and errors.

mod support;

use futures::StreamExt;
use micro::Code;
use support::kitchen::{GetRequest, ListRequest, PantryClient};
use support::types::{Item, Kind};

fn item(id: &str) -> Item {
    Item {
        id: id.into(),
        ..Item::default()
    }
}

#[tokio::test]
async fn unary_call_round_trips() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let reply = kitchen
        .get(GetRequest { id: "apple".into() })
        .await
        .unwrap();
    assert_eq!(reply.id, "apple");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn server_streaming_delivers_every_message_in_order() {
    let (service, kitchen, _) = support::start_kitchen().await;
    assert_books_arrive_in_order(&kitchen, 200).await;
    service.stop().await.unwrap();
}

/// Lists `count` books and checks every one arrived, in order.
async fn assert_books_arrive_in_order(kitchen: &support::kitchen::KitchenClient, count: u32) {
    let request = ListRequest {
        kind: Kind::Book as i32,
        limit: Some(count),
    };
    let items: Vec<Item> = kitchen
        .list(request)
        .await
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
        .await;
    let ids: Vec<String> = items.into_iter().map(|item| item.id).collect();
    assert_eq!(ids, (0..count).map(|n| n.to_string()).collect::<Vec<_>>());
}

#[tokio::test]
async fn server_streaming_error_arrives_after_the_sent_messages() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let request = ListRequest {
        kind: Kind::Film as i32,
        limit: Some(5),
    };
    let mut stream = kitchen.list(request).await.unwrap();
    assert_eq!(stream.recv().await.unwrap().unwrap().id, "0");
    let err = stream.recv().await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(err.message(), "films are out of stock");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn client_streaming_counts_what_was_sent() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let items = futures::stream::iter((0..1000).map(|n| item(&n.to_string())));
    assert_eq!(kitchen.put(items).await.unwrap().stored, 1000);
    let none = futures::stream::iter(Vec::<Item>::new());
    assert_eq!(kitchen.put(none).await.unwrap().stored, 0);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn bidi_streaming_answers_each_message_as_it_arrives() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    let mut replies = kitchen
        .chat(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .unwrap();
    // Each answer comes back before the next message is sent: a real conversation.
    for n in 0..5 {
        sender.send(item(&n.to_string())).await.unwrap();
        assert_eq!(
            replies.recv().await.unwrap().unwrap().id,
            format!("re: {n}")
        );
    }
    drop(sender);
    assert!(replies.recv().await.unwrap().is_none());
    service.stop().await.unwrap();
}

#[tokio::test]
async fn handlers_see_metadata_endpoint_and_peer() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let reply = kitchen
        .get(GetRequest {
            id: "meta:x-user".into(),
        })
        .metadata("X-User", "alice")
        .await
        .unwrap();
    assert_eq!(reply.note.as_deref(), Some("alice"));

    let reply = kitchen
        .get(GetRequest {
            id: "endpoint".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.note.as_deref(), Some("kitchen Kitchen.Get"));

    let reply = kitchen.get(GetRequest { id: "peer".into() }).await.unwrap();
    let peer: std::net::SocketAddr = reply.note.unwrap().parse().unwrap();
    assert!(peer.ip().is_loopback());
    service.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_call_metadata_fails_before_sending() {
    let (service, kitchen, handler) = support::start_kitchen().await;
    let err = kitchen
        .get(GetRequest { id: "x".into() })
        .metadata("bad key", "v")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("bad key"), "{}", err.message());
    assert_eq!(
        handler
            .counters
            .started
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn handler_errors_reach_the_client_unchanged() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let err = kitchen
        .get(GetRequest {
            id: "missing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "no item `missing`")
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn go_micro_errors_travel_as_go_micro_sends_them() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let status = kitchen
        .get(GetRequest {
            id: "go-micro".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        status.message(),
        r#"{"id":"kitchen","code":404,"detail":"no item","status":"Not Found"}"#
    );
    let error = micro::errors::Error::from_status(&status, "unused");
    assert_eq!(error, micro::errors::Error::not_found("kitchen", "no item"));
    service.stop().await.unwrap();
}

#[tokio::test]
async fn two_services_share_one_port() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let client = micro::Client::connect(&service.local_addr().to_string()).unwrap();
    let pantry = PantryClient::new(client);
    assert_eq!(pantry.count(()).await.unwrap().stored, 42);
    assert!(kitchen.r#type(()).await.is_ok());
    assert!(kitchen.new_rpc(()).await.is_ok());
    service.stop().await.unwrap();
}

#[tokio::test]
async fn calling_a_closed_port_is_unavailable_and_names_the_target() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let client = micro::Client::connect(&address).unwrap();
    let kitchen = support::kitchen::KitchenClient::new(client);
    let err = kitchen
        .get(GetRequest { id: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("Kitchen.Get") && err.message().contains(&address),
        "{}",
        err.message()
    );
}

/// With `gather_writes`, replies of calls that finish together share socket writes: every
/// kind of call still gets every reply, in order, under many concurrent calls on one
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gathered_writes_lose_and_reorder_nothing() {
    let running = support::kitchen_service(support::TestKitchen::default())
        .gather_writes(true)
        .start()
        .await
        .expect("kitchen starts");
    let client = micro::Client::connect(&running.local_addr().to_string()).expect("client");
    let kitchen = support::kitchen::KitchenClient::new(client);
    let calls = (0..200).map(|n| {
        let kitchen = kitchen.clone();
        async move {
            let id = format!("item-{n}");
            let reply = kitchen.get(GetRequest { id: id.clone() }).await.unwrap();
            assert_eq!(reply.id, id);
        }
    });
    futures::future::join_all(calls).await;
    let streams = (0..16).map(|_| {
        let kitchen = kitchen.clone();
        async move { assert_books_arrive_in_order(&kitchen, 500).await }
    });
    futures::future::join_all(streams).await;
    running.stop().await.unwrap();
}
