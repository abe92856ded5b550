//! The built-in services: `grpc.health.v1` and server reflection (v1 and v1alpha).

mod support;

use std::time::Duration;

use futures::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn health_reports_serving_overall_and_per_service() {
    let (service, _, _) = support::start_kitchen().await;
    let mut health = HealthClient::new(channel(service.local_addr()).await);
    for name in [
        "",
        "kitchen",
        "fixtures.kitchen.Kitchen",
        "fixtures.kitchen.Pantry",
    ] {
        let request = HealthCheckRequest {
            service: name.into(),
        };
        let status = health.check(request).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {name:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn health_turns_not_serving_when_the_service_stops() {
    let handler = support::TestKitchen::default();
    let service = support::kitchen_service(handler)
        .shutdown_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel(service.local_addr()).await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.next().await.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );
    let stopping = tokio::spawn(service.stop());
    assert_eq!(
        watch.next().await.unwrap().unwrap().status,
        ServingStatus::NotServing as i32
    );
    stopping.await.unwrap().unwrap();
}

mod reflection {
    use super::*;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    async fn ask(addr: std::net::SocketAddr, request: MessageRequest) -> MessageResponse {
        let mut client = ServerReflectionClient::new(channel(addr).await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        };
        let mut responses = client
            .server_reflection_info(futures::stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        responses
            .next()
            .await
            .unwrap()
            .unwrap()
            .message_response
            .unwrap()
    }

    #[tokio::test]
    async fn lists_user_and_built_in_services() {
        let (service, _, _) = support::start_kitchen().await;
        let MessageResponse::ListServicesResponse(list) = ask(
            service.local_addr(),
            MessageRequest::ListServices(String::new()),
        )
        .await
        else {
            panic!("expected a service list");
        };
        let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "fixtures.kitchen.Kitchen",
                "fixtures.kitchen.Pantry",
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ]
        );
        service.stop().await.unwrap();
    }

    #[tokio::test]
    async fn describes_a_method_with_its_imports() {
        let (service, _, _) = support::start_kitchen().await;
        let request = MessageRequest::FileContainingSymbol("fixtures.kitchen.Kitchen.Get".into());
        let MessageResponse::FileDescriptorResponse(files) =
            ask(service.local_addr(), request).await
        else {
            panic!("expected file descriptors");
        };
        use prost::Message;
        let names: Vec<String> = files
            .file_descriptor_proto
            .iter()
            .map(|bytes| {
                prost_types::FileDescriptorProto::decode(bytes.as_slice())
                    .unwrap()
                    .name()
                    .to_owned()
            })
            .collect();
        assert!(
            names.contains(&"fixtures/kitchen.proto".to_owned()),
            "{names:?}"
        );
        service.stop().await.unwrap();
    }
}

#[tokio::test]
async fn v1alpha_reflection_answers_too() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let (service, _, _) = support::start_kitchen().await;
    let mut client = ServerReflectionClient::new(channel(service.local_addr()).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"grpc.reflection.v1alpha.ServerReflection".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"fixtures.kitchen.Kitchen".to_owned()),
        "{names:?}"
    );
    service.stop().await.unwrap();
}
