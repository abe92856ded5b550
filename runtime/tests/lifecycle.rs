//! Starting and stopping: graceful drain, refused connections after stop, configuration errors.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use micro::Code;
use support::kitchen::{GetRequest, KitchenServer};

#[tokio::test]
async fn stop_lets_in_flight_calls_finish() {
    let (service, kitchen, handler) = support::start_kitchen().await;
    // An open bidi stream is an in-flight call: stop must wait for it to finish.
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    let mut replies = kitchen
        .chat(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .unwrap();
    let stop = tokio::spawn(service.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The call started before stop still works...
    sender
        .send(support::types::Item {
            id: "late".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(replies.recv().await.unwrap().unwrap().id, "re: late");
    drop(sender);
    assert!(replies.recv().await.unwrap().is_none());
    // ...and stop returns once it is done.
    stop.await.unwrap().unwrap();
    assert_eq!(handler.counters.cancelled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn calls_that_outlast_the_shutdown_timeout_are_cut_off() {
    let handler = support::TestKitchen::default();
    let service = support::kitchen_service(handler.clone())
        .shutdown_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let client = micro::Client::connect(&service.local_addr().to_string()).unwrap();
    let kitchen = support::kitchen::KitchenClient::new(client);
    let call = tokio::spawn(kitchen.get(GetRequest { id: "slow".into() }).into_future());
    while handler.counters.started.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = std::time::Instant::now();
    service.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop waited {:?}",
        started.elapsed()
    );
    let err = call.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stopped_service_refuses_connections() {
    let (service, kitchen, _) = support::start_kitchen().await;
    let addr = service.local_addr();
    service.stop().await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    let err = kitchen
        .get(GetRequest { id: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
}

#[tokio::test]
async fn flags_override_what_the_code_set() {
    let flags = {
        let mut flags = micro::Flags::default();
        flags.server_name = Some("renamed".into());
        flags.server_address = Some("127.0.0.1:0".into());
        flags
    };
    let service = micro::Service::new("kitchen")
        .registry(support::memory_registry())
        .address("256.0.0.1:1")
        .handle(KitchenServer::new(support::TestKitchen::default()))
        .flags(flags)
        .start()
        .await
        .unwrap();
    assert_eq!(service.name(), "renamed");
    assert!(service.local_addr().ip().is_loopback());
    let client = micro::Client::connect(&service.local_addr().to_string()).unwrap();
    let kitchen = support::kitchen::KitchenClient::new(client);
    let reply = kitchen
        .get(GetRequest {
            id: "endpoint".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.note.as_deref(), Some("renamed Kitchen.Get"));
    service.stop().await.unwrap();
}

#[tokio::test]
async fn configuration_errors_are_reported_before_binding() {
    let kitchen = || KitchenServer::new(support::TestKitchen::default());
    let twice = micro::Service::new("k")
        .registry(support::memory_registry())
        .address("127.0.0.1:0")
        .handle(kitchen())
        .handle(kitchen());
    let err = twice.start().await.unwrap_err();
    assert_eq!(err.kind(), micro::service::ErrorKind::Config);
    assert!(
        err.to_string()
            .contains("fixtures.kitchen.Kitchen` is handled twice"),
        "{err}"
    );

    let bad_address = micro::Service::new("k")
        .registry(support::memory_registry())
        .address("no-port-here")
        .handle(kitchen());
    let err = bad_address.start().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid server address `no-port-here`"),
        "{err}"
    );

    let unnamed = micro::Service::new("")
        .address("127.0.0.1:0")
        .registry(support::memory_registry());
    assert!(
        unnamed
            .start()
            .await
            .unwrap_err()
            .to_string()
            .contains("no name")
    );
}

/// A service on a free port whose hooks record, in `log`, when they ran.
fn hooked(log: &std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> micro::Service {
    let record = |stage: &'static str| {
        let log = log.clone();
        move || {
            log.lock().unwrap().push(stage.to_owned());
            async { Ok::<_, micro::Status>(()) }
        }
    };
    micro::Service::new("hooked")
        .address("127.0.0.1:0")
        .registry(support::memory_registry())
        .before_start(record("before_start 1"))
        .before_start(record("before_start 2"))
        .after_start(record("after_start"))
        .before_stop(record("before_stop"))
        .after_stop(record("after_stop"))
}

#[tokio::test]
async fn lifecycle_hooks_run_in_order_around_start_and_stop() {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let service = hooked(&log).start().await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["before_start 1", "before_start 2", "after_start"]
    );
    service.stop().await.unwrap();
    assert_eq!(
        log.lock().unwrap()[3..],
        ["before_stop".to_owned(), "after_stop".to_owned()]
    );
}

#[tokio::test]
async fn a_failing_before_start_hook_aborts_the_start_with_its_error() {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let registry = support::memory_registry();
    let err = hooked(&log)
        .registry(registry.clone())
        .before_start(|| async { Err::<(), _>(std::io::Error::other("the database is down")) })
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), micro::service::ErrorKind::Hook);
    let message = err.to_string();
    assert!(message.contains("before_start hook #3"), "{message}");
    assert!(message.contains("the database is down"), "{message}");
    assert_eq!(*log.lock().unwrap(), ["before_start 1", "before_start 2"]);
    assert!(
        registry.get_service("hooked").await.is_err(),
        "never registered"
    );
}

#[tokio::test]
async fn a_failing_after_start_hook_stops_the_service_and_fails_the_start() {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let registry = support::memory_registry();
    let err = hooked(&log)
        .registry(registry.clone())
        .after_start(|| async { Err::<(), _>(std::io::Error::other("warm-up failed")) })
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), micro::service::ErrorKind::Hook);
    assert!(err.to_string().contains("warm-up failed"), "{err}");
    // Stopped and deregistered; the stop hooks are for a service that started.
    assert!(
        registry.get_service("hooked").await.is_err(),
        "deregistered"
    );
    assert_eq!(log.lock().unwrap().last().unwrap(), "after_start");
}

#[tokio::test]
async fn failing_stop_hooks_are_logged_and_stopping_goes_on() {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let service = hooked(&log)
        .before_stop(|| async { Err::<(), _>(std::io::Error::other("flush failed")) })
        .start()
        .await
        .unwrap();
    let addr = service.local_addr();
    service.stop().await.unwrap();
    assert_eq!(log.lock().unwrap().last().unwrap(), "after_stop");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}
