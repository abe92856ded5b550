//! Proto-less handlers (`#[micro::handler]` over serde types): every RPC kind on every protocol
//! of the port, the typed client without codegen, derived descriptors (protobuf, reflection,
//! registry endpoint descriptions), and clear errors for bad input.

mod support;

use std::collections::BTreeMap;

use futures::StreamExt;
use micro::dynamic::{self, Descriptors};
use micro::{
    Client, Code, Context, JsonOptions, RunningService, Sender, Service, Status, Streaming,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Request {
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Response {
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Mood {
    Calm,
    Busy,
}

/// Everything serde and protobuf share: nesting, lists, maps, options, enums, 64-bit numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    lines: Vec<Line>,
    tags: BTreeMap<String, i32>,
    note: Option<String>,
    mood: Mood,
    #[serde(rename = "totalCents")]
    total_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Line {
    sku: String,
    quantity: u32,
}

struct Helloworld;

#[micro::handler]
impl Helloworld {
    async fn greeting(&self, _ctx: Context, req: Request) -> Result<Response, Status> {
        if req.name.is_empty() {
            return Err(Status::invalid_argument("name is required"));
        }
        Ok(Response {
            message: format!("Hello {}", req.name),
        })
    }

    /// No context: the shortest form.
    #[micro(name = "Echo")]
    async fn echo_order(&self, order: Order) -> Result<Order, Status> {
        Ok(order)
    }

    async fn count(
        &self,
        _ctx: Context,
        req: Request,
        replies: Sender<Response>,
    ) -> Result<(), Status> {
        for n in 0..3 {
            let message = format!("{} {n}", req.name);
            replies.send(Response { message }).await?;
        }
        Ok(())
    }

    async fn join(&self, _ctx: Context, mut reqs: Streaming<Request>) -> Result<Response, Status> {
        let mut names = Vec::new();
        while let Some(req) = reqs.recv().await? {
            names.push(req.name);
        }
        Ok(Response {
            message: names.join(","),
        })
    }

    async fn chat(
        &self,
        _ctx: Context,
        mut reqs: Streaming<Request>,
        replies: Sender<Response>,
    ) -> Result<(), Status> {
        while let Some(req) = reqs.recv().await? {
            let message = req.name.to_uppercase();
            replies.send(Response { message }).await?;
        }
        Ok(())
    }
}

/// A type protobuf cannot carry as serde's JSON does: a tuple.
#[derive(Debug, Serialize, Deserialize)]
struct Pair {
    pair: (String, u32),
}

struct Tuples;

#[micro::handler(package = "odd.v1")]
impl Tuples {
    async fn swap(&self, req: Pair) -> Result<Pair, Status> {
        Ok(Pair {
            pair: (req.pair.0.chars().rev().collect(), req.pair.1 + 1),
        })
    }
}

async fn start() -> (RunningService, Client) {
    let registry = support::memory_registry();
    let service = Service::new("helloworld")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .handle(Helloworld)
        .handle(Tuples)
        .start()
        .await
        .expect("service starts");
    let client = Client::with_registry(registry).expect("client");
    (service, client)
}

fn order() -> Order {
    Order {
        id: u64::MAX,
        lines: vec![Line {
            sku: "fig".into(),
            quantity: 2,
        }],
        tags: BTreeMap::from([("rush".to_owned(), 1)]),
        note: None,
        mood: Mood::Busy,
        total_cents: -5,
    }
}

#[tokio::test]
async fn go_micros_curl_and_connect_json_reach_a_proto_less_handler() {
    let (service, _) = start().await;
    let addr = service.local_addr();
    let go_micro = [
        ("content-type", "application/json"),
        ("micro-endpoint", "Helloworld.Greeting"),
    ];
    let response = support::post(addr, "/", &go_micro, r#"{"name":"alice"}"#, false).await;
    assert_eq!(response.status, http::StatusCode::OK);
    assert_eq!(
        response.json(),
        serde_json::json!({"message": "Hello alice"})
    );

    let connect = [("content-type", "application/json")];
    let path = "/helloworld.Helloworld/Greeting";
    let response = support::post(addr, path, &connect, r#"{"name":"bob"}"#, true).await;
    assert_eq!(response.status, http::StatusCode::OK);
    assert_eq!(response.json(), serde_json::json!({"message": "Hello bob"}));
    service.stop().await.unwrap();
}

#[tokio::test]
async fn the_typed_client_makes_every_kind_of_call_over_grpc_json() {
    let (service, client) = start().await;
    let request = Request {
        name: "alice".into(),
    };
    let reply: Response = client
        .call("helloworld", "Helloworld.Greeting", request.clone())
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello alice");

    let echoed: Order = client
        .call("helloworld", "Helloworld.Echo", order())
        .await
        .unwrap();
    assert_eq!(echoed, order());

    let counted: Vec<Response> = client
        .call_server_streaming("helloworld", "Helloworld.Count", request.clone())
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    let messages: Vec<_> = counted.into_iter().map(|r| r.message).collect();
    assert_eq!(messages, ["alice 0", "alice 1", "alice 2"]);

    let names = ["a", "b", "c"].map(|name| Request { name: name.into() });
    let joined: Response = client
        .call_client_streaming(
            "helloworld",
            "Helloworld.Join",
            futures::stream::iter(names.clone()),
        )
        .await
        .unwrap();
    assert_eq!(joined.message, "a,b,c");

    let chat = client
        .call_bidi_streaming::<Request, Response, _>(
            "helloworld",
            "Helloworld.Chat",
            futures::stream::iter(names),
        )
        .await
        .unwrap();
    let shouted: Vec<_> = chat.map(|reply| reply.unwrap().message).collect().await;
    assert_eq!(shouted, ["A", "B", "C"]);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn derived_descriptors_serve_protobuf_and_reflection() {
    let (service, client) = start().await;
    let descriptors = Descriptors::fetch(&client, "helloworld", None)
        .await
        .unwrap();
    let echo = descriptors.method("Helloworld.Echo").unwrap();
    assert_eq!(echo.path(), "/helloworld.Helloworld/Echo");
    let input = echo.input();
    assert_eq!(input.full_name(), "helloworld.Order");
    let fields: Vec<_> = input.fields().map(|f| f.name().to_owned()).collect();
    assert_eq!(
        fields,
        ["id", "lines", "tags", "note", "mood", "totalCents"]
    );
    assert!(input.get_field_by_name("lines").unwrap().is_list());
    assert!(input.get_field_by_name("tags").unwrap().is_map());
    assert!(input.get_field_by_name("note").unwrap().supports_presence());

    // A protobuf call through the derived descriptors, as grpcurl makes it.
    let options = JsonOptions::default();
    let text = serde_json::to_vec(&order()).unwrap();
    let request = dynamic::from_json(&input, &text, &options).unwrap();
    let reply = client
        .dynamic_unary("helloworld", &echo, request)
        .await
        .unwrap();
    let reply = dynamic::to_json(&reply, &options.proto_field_names(true)).unwrap();
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["lines"][0]["sku"], "fig");
    assert_eq!(reply["mood"], "Busy");
    assert_eq!(reply["totalCents"], "-5");
    assert_eq!(reply["id"], u64::MAX.to_string());
    service.stop().await.unwrap();
}

#[tokio::test]
async fn the_registry_holds_go_micros_endpoint_descriptions() {
    let registry = support::memory_registry();
    let service = Service::new("helloworld")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .handle(Helloworld)
        .start()
        .await
        .unwrap();
    let services = registry.get_service("helloworld").await.unwrap();
    let endpoints = &services[0].endpoints;
    let greeting = endpoints
        .iter()
        .find(|e| e.name == "Helloworld.Greeting")
        .expect("Helloworld.Greeting registered");
    let request = greeting.request.as_ref().unwrap();
    assert_eq!(request.name, "Request");
    assert_eq!(request.values[0].name, "name");
    assert_eq!(request.values[0].kind, "string");
    let response = greeting.response.as_ref().unwrap();
    assert_eq!(response.values[0].name, "message");
    let count = endpoints
        .iter()
        .find(|e| e.name == "Helloworld.Count")
        .unwrap();
    assert_eq!(
        count.metadata.get("stream").map(String::as_str),
        Some("true")
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn bad_json_gets_an_error_naming_the_field() {
    let (service, _) = start().await;
    let addr = service.local_addr();
    let go_micro = |endpoint| {
        [
            ("content-type", "application/json"),
            ("micro-endpoint", endpoint),
        ]
    };
    let response = support::post(
        addr,
        "/",
        &go_micro("Helloworld.Greeting"),
        r#"{"name":5}"#,
        false,
    )
    .await;
    assert_eq!(response.status, http::StatusCode::BAD_REQUEST);
    let detail = response.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("Request at `name`"), "{detail}");
    assert!(detail.contains("expected a string"), "{detail}");

    let body = r#"{"id":1,"lines":[{"sku":"fig"}],"tags":{},"mood":"Calm","totalCents":0}"#;
    let response = support::post(addr, "/", &go_micro("Helloworld.Echo"), body, false).await;
    assert_eq!(response.status, http::StatusCode::BAD_REQUEST);
    let detail = response.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("lines[0]") && detail.contains("missing field `quantity`"),
        "{detail}"
    );

    let response = support::post(addr, "/", &go_micro("Helloworld.Nope"), "{}", false).await;
    assert_eq!(
        response.status,
        http::StatusCode::NOT_FOUND,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    // An empty body is `{}`: a type with required fields says which.
    let response = support::post(addr, "/", &go_micro("Helloworld.Greeting"), "", false).await;
    assert_eq!(response.status, http::StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&response.body).contains("missing field `name`"),
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_handler_whose_types_protobuf_cannot_carry_speaks_json_only() {
    let (service, client) = start().await;
    let swapped: Pair = client
        .call(
            "helloworld",
            "Tuples.Swap",
            Pair {
                pair: ("ab".into(), 1),
            },
        )
        .await
        .unwrap();
    assert_eq!(swapped.pair, ("ba".to_owned(), 2));

    // Protobuf is refused with a status that says to use JSON.
    let grpc = [("content-type", "application/grpc"), ("te", "trailers")];
    let response = support::post(
        service.local_addr(),
        "/odd.v1.Tuples/Swap",
        &grpc,
        vec![0, 0, 0, 0, 0],
        true,
    )
    .await;
    assert_eq!(response.grpc_status(), Some(Code::Unimplemented as i32));
    let message = response.grpc_message();
    assert!(message.contains("application/json"), "{message}");
    service.stop().await.unwrap();
}

/// Endpoints and subscribers in one block share the handler's state, as in go-micro.
#[derive(Default)]
struct Mailer {
    welcomed: std::sync::Mutex<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Signup {
    email: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Welcomed {
    emails: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Empty {}

#[micro::handler]
impl Mailer {
    #[micro(subscribe = "signups")]
    async fn welcome(&self, _ctx: Context, signup: Signup) -> Result<(), Status> {
        self.welcomed.lock().unwrap().push(signup.email);
        Ok(())
    }

    async fn list(&self, _req: Empty) -> Result<Welcomed, Status> {
        let emails = self.welcomed.lock().unwrap().clone();
        Ok(Welcomed { emails })
    }
}

#[tokio::test]
async fn a_subscriber_and_an_endpoint_share_the_handler() {
    let registry = support::memory_registry();
    let service = Service::new("mailer")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .handle(Mailer::default())
        .start()
        .await
        .unwrap();
    let client = Service::new("signup-form")
        .registry(registry.clone())
        .client()
        .unwrap();
    let signup = Signup {
        email: "ada@example.com".into(),
    };
    client
        .publish("signups", &micro::codec::Json(signup))
        .await
        .unwrap();
    let mut listed = Vec::new();
    for _ in 0..100 {
        let welcomed: Welcomed = client
            .call("mailer", "Mailer.List", Empty {})
            .await
            .unwrap();
        listed = welcomed.emails;
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(listed, ["ada@example.com"]);
    service.stop().await.unwrap();
}

/// One Connect envelope: flags, big-endian length, payload.
fn envelope(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![flags];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The envelopes of a Connect streaming body.
fn envelopes(mut body: &[u8]) -> Vec<(u8, serde_json::Value)> {
    let mut frames = Vec::new();
    while body.len() >= 5 {
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        frames.push((body[0], serde_json::from_slice(&body[5..5 + len]).unwrap()));
        body = &body[5 + len..];
    }
    frames
}

#[tokio::test]
async fn connect_streams_carry_serde_json_envelopes() {
    let (service, _) = start().await;
    let headers = [("content-type", "application/connect+json")];
    let path = "/helloworld.Helloworld/Count";
    let request = envelope(0, br#"{"name":"ada"}"#);
    let response = support::post(service.local_addr(), path, &headers, request, false).await;
    assert_eq!(response.status, http::StatusCode::OK);
    let frames = envelopes(&response.body);
    let messages: Vec<_> = frames.iter().map(|(_, json)| json.clone()).collect();
    assert_eq!(
        messages,
        [
            serde_json::json!({"message": "ada 0"}),
            serde_json::json!({"message": "ada 1"}),
            serde_json::json!({"message": "ada 2"}),
            serde_json::json!({}),
        ]
    );
    assert_eq!(frames[3].0, 2, "the end-of-stream envelope");

    // A message that is not the type's JSON ends the stream with invalid_argument, naming it.
    let request = envelope(0, br#"{"name":["ada"]}"#);
    let response = support::post(service.local_addr(), path, &headers, request, true).await;
    let frames = envelopes(&response.body);
    let end = &frames.last().unwrap().1;
    assert_eq!(end["error"]["code"], "invalid_argument", "{end}");
    let message = end["error"]["message"].as_str().unwrap();
    assert!(message.contains("Request at `name`"), "{message}");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn the_typed_client_calls_a_generated_service_too() {
    #[derive(Serialize, Deserialize)]
    struct GetRequest {
        id: String,
    }
    #[derive(Debug, Serialize, Deserialize)]
    struct Item {
        id: String,
    }
    let (service, _, _) = support::start_kitchen().await;
    let client = Client::connect(&service.local_addr().to_string()).unwrap();
    let request = GetRequest { id: "fig".into() };
    let item: Item = client
        .call("kitchen", "Kitchen.Get", request)
        .await
        .unwrap();
    assert_eq!(item.id, "fig");
    // The generated service's JSON errors reach the typed caller as statuses.
    let request = GetRequest { id: "panic".into() };
    let failed = client
        .call::<_, Item>("kitchen", "Kitchen.Get", request)
        .await
        .unwrap_err();
    assert_eq!(failed.code(), Code::Internal);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn handler_and_call_wrappers_see_serde_messages_as_json() {
    use micro::client::{CallRequest, CallResponse};
    use micro::codec::Json;
    use micro::middleware::{Next, from_fn};
    use micro::server::{HandlerRequest, HandlerResponse};

    let handler_wrapper = from_fn(
        |mut request: HandlerRequest, next: Next<HandlerRequest, HandlerResponse, Status>| async move {
            let message = request.message_mut().expect("a unary request is decoded");
            if let Some(Json(request)) = message.downcast_mut::<Json<Request>>() {
                request.name = request.name.to_uppercase();
            }
            next.run(request).await
        },
    );
    let call_wrapper = from_fn(
        |call: CallRequest, next: Next<CallRequest, CallResponse, Status>| async move {
            let mut response = next.run(call).await?;
            if let Some(Json(reply)) = response
                .message_mut()
                .and_then(|m| m.downcast_mut::<Json<Response>>())
            {
                reply.message.push('!');
            }
            Ok(response)
        },
    );
    let service = Service::new("helloworld")
        .address("127.0.0.1:0")
        .registry(support::memory_registry())
        .handle(Helloworld)
        .wrap_handler(handler_wrapper)
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .address(service.local_addr().to_string())
        .wrap_call(call_wrapper)
        .build()
        .unwrap();
    let request = Request { name: "ada".into() };
    let reply: Response = client
        .call("helloworld", "Helloworld.Greeting", request)
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello ADA!");
    service.stop().await.unwrap();
}
