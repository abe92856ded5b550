//! Bad input gets a clear status or HTTP error, never a panic or a hang.

mod support;

use bytes::Bytes;
use http_body_util::Full;
use micro::Code;
use prost::Message;
use support::kitchen::GetRequest;

const GET: &str = "/fixtures.kitchen.Kitchen/Get";

fn get_request(id: &str) -> Vec<u8> {
    GetRequest { id: id.into() }.encode_to_vec()
}

#[tokio::test]
async fn unknown_service_lists_the_services_this_server_has() {
    let (service, _, _) = support::start_kitchen().await;
    let request = support::grpc_request(service.local_addr(), "/nowhere.Nothing/Get", b"");
    let response = support::send_raw(request, true).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.grpc_status(), Some(Code::Unimplemented as i32));
    let message = response.grpc_message();
    assert!(
        message.contains("unknown service `nowhere.Nothing`"),
        "{message}"
    );
    for name in [
        "fixtures.kitchen.Kitchen",
        "fixtures.kitchen.Pantry",
        "grpc.health.v1.Health",
    ] {
        assert!(message.contains(name), "{name} missing from: {message}");
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_method_lists_the_services_methods() {
    let (service, _, _) = support::start_kitchen().await;
    let request =
        support::grpc_request(service.local_addr(), "/fixtures.kitchen.Kitchen/Cook", b"");
    let response = support::send_raw(request, true).await;
    assert_eq!(response.grpc_status(), Some(Code::Unimplemented as i32));
    assert_eq!(
        response.grpc_message(),
        "unknown method `Cook` of service `fixtures.kitchen.Kitchen`; it has: Get, List, Put, \
         Chat, Echo, Type, New, Old"
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn go_micro_style_paths_reach_the_handler_by_its_name() {
    let (service, _, _) = support::start_kitchen().await;
    // go-micro's gRPC client puts the service's registered name where the package goes.
    let request = support::grpc_request(
        service.local_addr(),
        "/kitchen.Kitchen/Get",
        &get_request("pear"),
    );
    let response = support::send_raw(request, true).await;
    assert_eq!(
        response.grpc_status(),
        Some(0),
        "{}",
        response.grpc_message()
    );
    assert_eq!(
        support::types::Item::decode(&response.body[5..])
            .unwrap()
            .id,
        "pear"
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_protobuf_is_rejected_with_a_status() {
    let (service, _, _) = support::start_kitchen().await;
    let garbage = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f];
    let request = support::grpc_request(service.local_addr(), GET, &garbage);
    let response = support::send_raw(request, true).await;
    assert_eq!(response.grpc_status(), Some(Code::Internal as i32));
    assert!(
        response.grpc_message().contains("decode"),
        "{}",
        response.grpc_message()
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_gzip_compressed_request_is_served_and_an_unannounced_one_refused() {
    use std::io::Write;
    let (service, _, _) = support::start_kitchen().await;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&get_request("plum")).unwrap();
    let compressed = gzip.finish().unwrap();
    let mut frame = vec![1];
    frame.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
    frame.extend_from_slice(&compressed);

    let mut request = support::grpc_request(service.local_addr(), GET, b"");
    *request.body_mut() = Full::new(Bytes::from(frame.clone()));
    request
        .headers_mut()
        .insert("grpc-encoding", "gzip".parse().unwrap());
    let response = support::send_raw(request, true).await;
    assert_eq!(
        response.grpc_status(),
        Some(0),
        "{}",
        response.grpc_message()
    );
    let item = support::types::Item::decode(&response.body[5..]).unwrap();
    assert_eq!(item.id, "plum");

    let mut unannounced = support::grpc_request(service.local_addr(), GET, b"");
    *unannounced.body_mut() = Full::new(Bytes::from(frame));
    let response = support::send_raw(unannounced, true).await;
    assert_eq!(response.grpc_status(), Some(Code::Internal as i32));
    assert!(
        response
            .grpc_message()
            .contains("compressed without a grpc-encoding"),
        "{}",
        response.grpc_message()
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_missing_request_message_is_rejected() {
    let (service, _, _) = support::start_kitchen().await;
    let mut request = support::grpc_request(service.local_addr(), GET, b"");
    *request.body_mut() = Full::new(Bytes::new());
    let response = support::send_raw(request, true).await;
    // UNIMPLEMENTED, as grpc-go and connect-go answer (the Connect conformance suite checks).
    assert_eq!(response.grpc_status(), Some(Code::Unimplemented as i32));
    assert!(
        response.grpc_message().contains("holds no message"),
        "{}",
        response.grpc_message()
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn an_oversized_request_is_resource_exhausted() {
    let handler = support::TestKitchen::default();
    let service = support::kitchen_service(handler)
        .max_message_size(1024)
        .start()
        .await
        .unwrap();
    let request = support::grpc_request(service.local_addr(), GET, &get_request(&"x".repeat(2000)));
    let response = support::send_raw(request, true).await;
    assert_eq!(response.grpc_status(), Some(Code::ResourceExhausted as i32));
    let message = response.grpc_message();
    assert!(
        message.contains("exceeds the limit of 1024 bytes"),
        "{message}"
    );
    // A message under the limit still works on the same server.
    let request = support::grpc_request(service.local_addr(), GET, &get_request("ok"));
    assert_eq!(
        support::send_raw(request, true).await.grpc_status(),
        Some(0)
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn an_oversized_response_is_resource_exhausted_at_the_client() {
    let (service, _, _) = support::start_kitchen().await;
    let client = micro::Client::builder()
        .address(service.local_addr().to_string())
        .max_message_size(1024)
        .build()
        .unwrap();
    let kitchen = support::kitchen::KitchenClient::new(client);
    let err = kitchen
        .get(GetRequest {
            id: "big:4096".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_malformed_grpc_timeout_is_invalid_argument() {
    let (service, _, _) = support::start_kitchen().await;
    let mut request = support::grpc_request(service.local_addr(), GET, &get_request("x"));
    request
        .headers_mut()
        .insert("grpc-timeout", "soon".parse().unwrap());
    let response = support::send_raw(request, true).await;
    assert_eq!(response.grpc_status(), Some(Code::InvalidArgument as i32));
    assert!(
        response.grpc_message().contains("malformed grpc-timeout"),
        "{}",
        response.grpc_message()
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_content_type_is_415_and_says_what_this_port_speaks() {
    let (service, _, _) = support::start_kitchen().await;
    for http2 in [false, true] {
        let request = http::Request::post(format!("http://{}{GET}", service.local_addr()))
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from_static(b"hello")))
            .unwrap();
        let response = support::send_raw(request, http2).await;
        assert_eq!(response.status, 415);
        let body = String::from_utf8_lossy(&response.body);
        assert!(
            body.contains("unsupported content-type `text/plain`"),
            "{body}"
        );
        assert!(body.contains("application/grpc"), "{body}");
    }
    let request = http::Request::get(format!("http://{}/", service.local_addr()))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = support::send_raw(request, false).await;
    assert_eq!(response.status, 415);
    assert!(String::from_utf8_lossy(&response.body).contains("missing content-type"));
    service.stop().await.unwrap();
}

#[tokio::test]
async fn grpc_over_http1_is_refused_with_a_hint() {
    let (service, _, _) = support::start_kitchen().await;
    let request = support::grpc_request(service.local_addr(), GET, &get_request("x"));
    let response = support::send_raw(request, false).await;
    assert_eq!(response.status, 505);
    assert!(String::from_utf8_lossy(&response.body).contains("gRPC needs HTTP/2"));
    service.stop().await.unwrap();
}

#[tokio::test]
async fn grpc_over_get_is_405() {
    let (service, _, _) = support::start_kitchen().await;
    let request = http::Request::get(format!("http://{}{GET}", service.local_addr()))
        .header("content-type", "application/grpc")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(support::send_raw(request, true).await.status, 405);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn garbage_bytes_on_the_socket_do_not_disturb_other_clients() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (service, kitchen, _) = support::start_kitchen().await;
    let mut socket = tokio::net::TcpStream::connect(service.local_addr())
        .await
        .unwrap();
    socket
        .write_all(b"\x00\x01\x02 not http at all\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.read_to_end(&mut answer),
    )
    .await;
    assert!(
        kitchen
            .get(GetRequest {
                id: "still-fine".into()
            })
            .await
            .is_ok()
    );
    service.stop().await.unwrap();
}
